// Serialization helpers: an append-only byte buffer with JSON string escaping, and a small
// ordered JSON value type for metadata and summaries.

public struct ByteBuffer {
    public var bytes: [UInt8] = []
    public init(capacity: Int = 0) { bytes.reserveCapacity(capacity) }
    public var count: Int { bytes.count }
    public mutating func removeAll() { bytes.removeAll(keepingCapacity: true) }

    @inline(__always) public mutating func append(_ b: UInt8) { bytes.append(b) }
    @inline(__always) public mutating func append(_ s: StaticString) {
        bytes.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
    public mutating func append(_ s: String) { bytes.append(contentsOf: s.utf8) }
    public mutating func append(_ b: [UInt8]) { bytes.append(contentsOf: b) }
    public mutating func append(_ b: UnsafeRawBufferPointer) { bytes.append(contentsOf: b) }

    /// Appends `"..."` with JSON escaping of the UTF-8 bytes (which must be valid UTF-8).
    public mutating func appendJSONString(_ s: [UInt8]) {
        s.withUnsafeBufferPointer { appendJSONString($0) }
    }
    public mutating func appendJSONString(_ s: String) {
        var s = s
        s.withUTF8 { appendJSONString($0) }
    }

    public mutating func appendJSONString(_ s: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        guard let p = s.baseAddress else { bytes.append(UInt8(ascii: "\"")); return }
        let n = s.count
        var run = 0
        var i = 0
        while i < n {
            // Skip eight plain bytes at a time.
            while i + 8 <= n {
                let w = UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self)
                let quote = w ^ 0x2222_2222_2222_2222
                let bslash = w ^ 0x5C5C_5C5C_5C5C_5C5C
                let t = ((quote &- 0x0101_0101_0101_0101) & ~quote)
                    | ((bslash &- 0x0101_0101_0101_0101) & ~bslash)
                    | ((w &- 0x2020_2020_2020_2020) & ~w)
                if t & 0x8080_8080_8080_8080 != 0 { break }
                i += 8
            }
            if i >= n { break }
            let c = p[i]
            if c >= 0x20 && c != 0x22 && c != 0x5C { i += 1; continue }
            if i > run { bytes.append(contentsOf: UnsafeBufferPointer(start: p + run, count: i - run)) }
            switch c {
            case 0x22: append("\\\"")
            case 0x5C: append("\\\\")
            case 0x0A: append("\\n")
            case 0x0D: append("\\r")
            case 0x09: append("\\t")
            case 0x08: append("\\b")
            case 0x0C: append("\\f")
            default:
                let d: [UInt8] = [0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66]
                append("\\u00"); bytes.append(d[Int(c >> 4)]); bytes.append(d[Int(c & 15)])
            }
            i += 1
            run = i
        }
        if n > run { bytes.append(contentsOf: UnsafeBufferPointer(start: p + run, count: n - run)) }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func appendJSONNumber(_ d: Double) {
        if d.isFinite, d == d.rounded(), abs(d) < 1e15 {
            // Always a float literal for a float field, e.g. 8.0.
            append(String(Int64(d))); append(".0")
        } else if d.isFinite {
            append("\(d)")
        } else {
            append("null")
        }
    }

    public mutating func appendJSONValue(_ v: JSONValue) {
        switch v {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .int(let i): append(String(i))
        case .double(let d): appendJSONNumber(d)
        case .string(let s): appendJSONString(s)
        case .array(let a):
            append(UInt8(ascii: "["))
            for (k, e) in a.enumerated() { if k > 0 { append(", ") }; appendJSONValue(e) }
            append(UInt8(ascii: "]"))
        case .object(let o):
            append(UInt8(ascii: "{"))
            for (k, e) in o.enumerated() {
                if k > 0 { append(", ") }
                appendJSONString(e.0); append(": "); appendJSONValue(e.1)
            }
            append(UInt8(ascii: "}"))
        }
    }
}

/// An ordered JSON value (objects keep insertion order so output is deterministic).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x), .object(y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A member by key; with duplicate keys the last one wins (as in Python's json and JRef).
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o.last(where: { $0.0 == key })?.1 }
        return nil
    }
    public var isNull: Bool { if case .null = self { return true }; return false }
    /// The JSON type's name, for messages ("a string", "a list", ...).
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .int, .double: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "an object"
        }
    }
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int64? { if case .int(let i) = self { return i }; return nil }
    public var doubleValue: Double? {
        switch self { case .double(let d): return d; case .int(let i): return Double(i); default: return nil }
    }
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }

    public func serialized() -> String {
        var b = ByteBuffer()
        b.appendJSONValue(self)
        return String(decoding: b.bytes, as: UTF8.self)
    }

    /// Indented JSON (objects and arrays one member per line), as hand-kept registries are written.
    public func pretty(indent: Int = 2, level: Int = 0) -> String {
        let pad = String(repeating: " ", count: indent * (level + 1)), end = String(repeating: " ", count: indent * level)
        switch self {
        case .object(let members) where !members.isEmpty:
            let inner = members.map { pad + JSONValue.string($0.0).serialized() + ": " + $0.1.pretty(indent: indent, level: level + 1) }
            return "{\n" + inner.joined(separator: ",\n") + "\n" + end + "}"
        case .array(let items) where !items.isEmpty:
            return "[\n" + items.map { pad + $0.pretty(indent: indent, level: level + 1) }.joined(separator: ",\n") + "\n" + end + "]"
        default:
            return serialized()
        }
    }

    /// Parses a whole JSON text into a value (for small documents: configs, summaries, tests).
    public static func parse(_ text: String) throws -> JSONValue {
        var bytes = Array(text.utf8)
        return try bytes.withUnsafeMutableBytes { raw in
            var sc = JSONScanner()
            return try sc.parse(UnsafeRawBufferPointer(raw)).root.value
        }
    }
    public static func parse(bytes: [UInt8]) throws -> JSONValue {
        try bytes.withUnsafeBytes { raw in
            var sc = JSONScanner()
            return try sc.parse(raw).root.value
        }
    }
}

extension JRef {
    /// The text of a list of content parts: strings, and the `text` (or `value`, `content`) of parts
    /// of type `text` (or without a type), concatenated; other parts contribute nothing.
    public var textOfParts: [UInt8] {
        var out: [UInt8] = []
        for part in elements {
            if let s = part.bytes { out += s; continue }
            if let t = part["type"]?.string, t != "text" { continue }
            if let s = (part["text"] ?? part["value"] ?? part["content"])?.bytes { out += s }
        }
        return out
    }

    /// Materializes the value (numbers without fraction or exponent become `.int`).
    public var value: JSONValue {
        switch kind {
        case .null: return .null
        case .bool: return .bool(node.flag)
        case .string: return .string(string ?? "")
        case .number:
            let t = rawText
            if let i = Int64(t) { return .int(i) }
            return .double(Double(t) ?? 0)
        case .array: return .array(elements.map { $0.value })
        case .object:
            // Duplicate keys: one member, at the first key's position, with the last value (Python's dict).
            var out: [(String, JSONValue)] = []
            var at: [String: Int] = [:]
            for m in members {
                if let k = at[m.key] { out[k].1 = m.value.value } else { at[m.key] = out.count; out.append((m.key, m.value.value)) }
            }
            return .object(out)
        }
    }
}
