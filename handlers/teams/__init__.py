"""Microsoft Teams: the chat port, the inbound bot (Teams SDK) and the app package."""
