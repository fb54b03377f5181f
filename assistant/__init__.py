"""Leitlinien-Assistent: cited answers about the rules for using AI in the Landesverwaltung RLP."""
