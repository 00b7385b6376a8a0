// The record splitter (JSON Lines and streamed top-level arrays) and the JSON byte scanner, with
// every value materialized and serialized again.
import FuzzSupport
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    let reader = RecordReader(MemorySource(bytes), maxRecordBytes: 4096, chunk: 64)
    var scanner = JSONScanner()
    while let batch = reader.nextBatch(targetBytes: 256, maxRecords: 8) {
        for i in 0..<batch.count {
            batch.withRecord(i) { buf in
                if let doc = try? scanner.parse(buf) { _ = doc.root.value.serialized() }
            }
        }
    }
    // The whole input as one document too.
    bytes.withUnsafeBytes { buf in
        if let doc = try? scanner.parse(buf) { _ = doc.root.value.serialized() }
    }
    return 0
}

@_cdecl("FuzzJSON_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
