"""Development and test tooling: board simulator, local AWS IoT emulation."""
