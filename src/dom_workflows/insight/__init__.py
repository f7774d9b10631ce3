"""Decision and outcome records: what the order tells the insight tables as it goes."""
