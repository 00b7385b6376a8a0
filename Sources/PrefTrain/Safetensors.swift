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
    let map: MappedFile
    /// Where the data section starts in the file.
    public let base: Int
    public let tensors: [String: Tensor]

    static let dtypeBytes: [String: Int] = ["F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1]
    /// A header larger than this is not a model's (real ones are a few hundred KB).
    static let maxHeader = 100 << 20

    public init(path: String) throws {
        self.path = path
        let map = try MappedFile(path: path, what: "a safetensors file", minSize: 8)
        func bad(_ what: String) -> TrainError { TrainError("\(path): \(what)") }
        let n = UInt64(littleEndian: map.base.loadUnaligned(as: UInt64.self))
        guard n >= 2, n <= UInt64(map.size - 8), n <= UInt64(SafetensorsFile.maxHeader) else {
            throw bad("header length \(n) does not fit the file (\(map.size) bytes)")
        }
        let hlen = Int(n)
        let header = Array(UnsafeRawBufferPointer(start: map.base + 8, count: hlen))
        guard case .object(let entries)? = try? JSONValue.parse(bytes: header) else { throw bad("the header is not a JSON object") }
        let data = map.size - 8 - hlen
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
        self.map = map
        base = 8 + hlen
        tensors = table
    }

    /// A tensor's raw data.
    public func floats(_ t: Tensor, _ body: (UnsafeRawPointer) -> Void) {
        body(map.base + base + t.begin)
    }

    /// A floating-point tensor (F32, F16, BF16) as Float, in its row-major order.
    public func floats(_ name: String) throws -> [Float] {
        guard let t = tensors[name] else { throw TrainError("\(path): no tensor \(name)") }
        let type: GGMLType
        switch t.dtype {
        case "F32": type = .f32
        case "F16": type = .f16
        case "BF16": type = .bf16
        default: throw TrainError("\(path): tensor \(name) is \(t.dtype); model weights are read from F32, F16 or BF16")
        }
        return [Float](unsafeUninitializedCapacity: t.count) { buf, n in
            GGUFFile.dequantize(map.base + base + t.begin, type: type, count: t.count, into: buf.baseAddress!)
            n = t.count
        }
    }
}
