"""Parameterized report notebooks: parameters, runs, rendering, the schedule, cli."""
