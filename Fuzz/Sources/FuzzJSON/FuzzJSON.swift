// The record splitter (JSON Lines and streamed top-level arrays) and the JSON byte scanner, with
// every value materialized and serialized again.
import PrefIO

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
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

// SwiftPM links an executable target's entry point as `<module>_main`; with -parse-as-library there is
// none, so this is it: it hands control to libFuzzer's driver with the function above.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("FuzzJSON_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, fuzz)
}
