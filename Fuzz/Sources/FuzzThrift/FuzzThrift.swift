// The Thrift compact decoder of Parquet footers: the input is the footer itself, wrapped as a
// Parquet file (magic, footer, its length, magic), so every byte the fuzzer varies is Thrift.
import FuzzSupport
import PrefIO

let scratch = ScratchFile(name: "footer.parquet")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size), !bytes.isEmpty else { return 0 }
    let n = UInt32(bytes.count)
    let file = Array("PAR1".utf8) + bytes + [UInt8(n & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 24)] + Array("PAR1".utf8)
    DecodeBudget.memoryLimit = 8 << 20
    scratch.write(file)
    if let src = try? ParquetSource(path: scratch.path) {
        var buf = [UInt8](repeating: 0, count: 1 << 12)
        _ = try? buf.withUnsafeMutableBytes { try src.read(into: $0) }
    }
    return 0
}

@_cdecl("FuzzThrift_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
