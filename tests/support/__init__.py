"""Helpers shared by the tests: one polling `until`, the Temporal server processes, the order
harness and the API/returns/simulator drivers. Plain modules, imported by conftests and tests;
conftests never import each other."""
