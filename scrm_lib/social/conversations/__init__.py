"""Conversations: intent and sentiment of chat messages, person tags and service KPIs."""
