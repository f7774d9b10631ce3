"""Carrier messages: rate shopping, label purchase (outbound and return) and label voids."""
