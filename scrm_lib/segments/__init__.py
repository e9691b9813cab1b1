"""Segments: definitions over the person marts, saved versions, audience exports, cli."""
