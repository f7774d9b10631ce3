"""Dropship supplier messages: purchase orders sent to a supplier node and their acknowledgements."""
