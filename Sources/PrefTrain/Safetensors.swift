// The safetensors container: an 8-byte little-endian header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the data. Everything in the header is checked against
// the file's own size before any of it is used.
import Foundation
import PrefIO

public struct SafetensorsFile {
    public struct Tensor: Sendable {
        public var name: String
        public var dtype: String
        public var shape: [Int]
        /// Byte range within the data section (after the header).
        public var begin: Int
        public var end: Int
        public var count: Int { shape.reduce(1, *) }
    }

    public let path: String
    public let bytes: [UInt8]
    /// Where the data section starts in `bytes`.
    public let base: Int
    public let tensors: [String: Tensor]

    static let dtypeBytes: [String: Int] = ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1]
    /// A header larger than this is not a model's (real ones are a few hundred KB).
    static let maxHeader = 100 << 20

    public init(path: String) throws {
        self.path = path
        let bytes = try Sources.readAll(path)
        func bad(_ what: String) -> TrainError { TrainError("\(path): \(what)") }
        guard bytes.count >= 8 else { throw bad("too short for a safetensors file") }
        let n = bytes[0..<8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard n >= 2, n <= UInt64(bytes.count - 8), n <= UInt64(SafetensorsFile.maxHeader) else {
            throw bad("header length \(n) does not fit the file (\(bytes.count) bytes)")
        }
        let hlen = Int(n)
        guard case .object(let entries)? = try? JSONValue.parse(bytes: Array(bytes[8..<(8 + hlen)])) else { throw bad("the header is not a JSON object") }
        let data = bytes.count - 8 - hlen
        var table: [String: Tensor] = [:]
        for (name, e) in entries where name != "__metadata__" {
            guard let dt = e["dtype"]?.stringValue, let size = SafetensorsFile.dtypeBytes[dt] else {
                throw bad("tensor \(name) has an unsupported dtype \(e["dtype"]?.serialized() ?? "(none)")")
            }
            guard let shapeV = e["shape"]?.arrayValue, shapeV.count <= 8, let offV = e["data_offsets"]?.arrayValue, offV.count == 2 else {
                throw bad("tensor \(name) has no shape or data_offsets")
            }
            let shape = shapeV.compactMap(\.intValue)
            let offs = offV.compactMap(\.intValue)
            guard shape.count == shapeV.count, offs.count == 2, shape.allSatisfy({ $0 >= 0 && $0 <= Int64(data) }),
                  offs[0] >= 0, offs[0] <= offs[1], offs[1] <= Int64(data) else {
                throw bad("tensor \(name) lies outside the file (offsets \(offV.map { $0.serialized() }), \(data) data bytes)")
            }
            var elements = 1
            for d in shape {
                let (m, o) = elements.multipliedReportingOverflow(by: Int(d))
                guard !o, m <= data else { throw bad("tensor \(name) has shape \(shape), larger than the file") }
                elements = m
            }
            guard elements * size == Int(offs[1] - offs[0]) else {
                throw bad("tensor \(name): shape \(shape) of \(dt) needs \(elements * size) bytes, its offsets give \(offs[1] - offs[0])")
            }
            table[name] = Tensor(name: name, dtype: dt, shape: shape.map(Int.init), begin: Int(offs[0]), end: Int(offs[1]))
        }
        // No two tensors share bytes.
        let sorted = table.values.filter { $0.end > $0.begin }.sorted { ($0.begin, $0.name) < ($1.begin, $1.name) }
        for (a, b) in zip(sorted, sorted.dropFirst()) where b.begin < a.end {
            throw bad("tensors \(a.name) and \(b.name) overlap")
        }
        self.bytes = bytes
        base = 8 + hlen
        tensors = table
    }

    /// A tensor's data as Float32, element by element (F32 only here).
    public func floats(_ t: Tensor, _ body: (UnsafeRawPointer) -> Void) {
        bytes.withUnsafeBytes { raw in body(raw.baseAddress! + base + t.begin) }
    }
}
