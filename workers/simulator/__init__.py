"""The partner simulator: one process playing every partner of the network (fulfilment nodes,
dropship suppliers, the carrier and the payment provider), with fault injection and a request
log that proves retries never produced a duplicate side effect. Run it with
`dom simulate partners`; the wire formats are in docs/partners.md."""
