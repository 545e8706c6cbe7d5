"""The Home Assistant side of AWS IoT: topics, payloads and the bridge's MQTT connection.

No Home Assistant imports: this package is tested on its own against a real broker.
"""
