def crc8(data):
    crc = 0
    for byte in data:
        for _ in range(8):
            mix = (crc ^ byte) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8C
            byte >>= 1
    return crc
addr = bytes.fromhex("28FF641E0F24A13C")
print(hex(crc8(addr[:7])), hex(addr[7]))
import websockets.frames as f, inspect
print(inspect.signature(f.Frame.parse), inspect.signature(f.Frame.serialize))
import websockets.streams as s; print([n for n in dir(s.StreamReader) if not n.startswith('_')])
import websockets.utils as u; print([n for n in dir(u) if not n.startswith('_')])
