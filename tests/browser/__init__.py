"""Home Assistant's real frontend in headless Chromium, against the emulator and simulated boards."""
