"""Microsoft Teams: the chat port, the inbound listeners (Teams SDK) and the app package."""
