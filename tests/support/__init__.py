"""Helpers shared by the tests: one polling `until`, the Temporal server processes, the order
harness, the API/returns/simulator drivers and the fixtures several directories use
(fixtures.py, a plugin of tests/conftest.py). Plain modules, imported by conftests and tests;
nothing imports from a conftest (tests/test_test_layout.py)."""
