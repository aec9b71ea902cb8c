"""Run it confined: start the child, talk to it within its limits, and know how it was confined."""
