// UTF-8 validation with an ASCII fast path (eight bytes per step).

public enum UTF8Check {
    /// Returns nil when `buf` is valid UTF-8, otherwise the byte offset of the first invalid sequence.
    public static func firstInvalid(_ buf: UnsafeRawBufferPointer) -> Int? {
        guard let p = buf.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        let n = buf.count
        var i = 0
        while i < n {
            // ASCII fast path.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                if w & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            if i >= n { break }
            let b0 = p[i]
            if b0 < 0x80 { i += 1; continue }
            if b0 < 0xC2 { return i }
            if b0 < 0xE0 {
                guard i + 1 < n, p[i + 1] & 0xC0 == 0x80 else { return i }
                i += 2
            } else if b0 < 0xF0 {
                guard i + 2 < n else { return i }
                let b1 = p[i + 1], b2 = p[i + 2]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80 else { return i }
                if b0 == 0xE0 && b1 < 0xA0 { return i }      // overlong
                if b0 == 0xED && b1 >= 0xA0 { return i }     // UTF-16 surrogate
                i += 3
            } else if b0 < 0xF5 {
                guard i + 3 < n else { return i }
                let b1 = p[i + 1], b2 = p[i + 2], b3 = p[i + 3]
                guard b1 & 0xC0 == 0x80, b2 & 0xC0 == 0x80, b3 & 0xC0 == 0x80 else { return i }
                if b0 == 0xF0 && b1 < 0x90 { return i }      // overlong
                if b0 == 0xF4 && b1 >= 0x90 { return i }     // > U+10FFFF
                i += 4
            } else {
                return i
            }
        }
        return nil
    }

    /// Replaces invalid sequences with U+FFFD, for showing raw bad input in reject files.
    public static func lossyString(_ buf: UnsafeRawBufferPointer) -> String {
        String(decoding: buf.bindMemory(to: UInt8.self), as: UTF8.self)
    }
}
