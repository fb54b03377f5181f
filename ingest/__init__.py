"""Documents -> sections -> chunks -> index, with versions and a registry."""
