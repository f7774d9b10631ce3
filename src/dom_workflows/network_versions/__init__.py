"""The network as versioned data: the document a version stores (network, policy, node lifecycle
and rollout scopes), what an order falls into, and the diff between two versions. Pure: the
store lives in activities/network."""
