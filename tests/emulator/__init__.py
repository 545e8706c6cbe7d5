"""The local AWS IoT emulation against AWS IoT Core's documented behaviour."""
