// Every corpus adapter on every JSON record of the input, and the normalized pair written and
// parsed back. A crash here is a record that would take a conversion down.
import FuzzSupport
import PrefCore
import PrefFormats
import PrefIO

let adapters: [FormatAdapter] = {
    var o = FormatOptions()
    o.fieldMap = (try? FormatOptions.parseMap("prompt=q.text,chosen=a,rejected=b,score_chosen=s.0,score_rejected=s.1,id=id,system=sys")) ?? [:]
    return Corpora.recordAdapters(o).map(\.adapter)
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    let reader = RecordReader(MemorySource(bytes), maxRecordBytes: 1 << 16)
    var scanner = JSONScanner()
    while let batch = reader.nextBatch() {
        for i in 0..<batch.count {
            batch.withRecord(i) { buf in
                guard let doc = try? scanner.parse(buf) else { return }
                _ = Corpora.detect(doc.root)
                for a in adapters {
                    guard case .pair(let p)? = try? a.convert(doc.root) else { continue }
                    var out = ByteBuffer()
                    p.write(to: &out)
                    var again = JSONScanner()
                    out.bytes.withUnsafeBytes { raw in
                        guard let d2 = try? again.parse(UnsafeRawBufferPointer(rebasing: raw[0..<(raw.count - 1)])) else {
                            fatalError("a written pair does not parse back")
                        }
                        _ = try? Pair.parse(d2.root)
                    }
                }
            }
        }
    }
    return 0
}

@_cdecl("FuzzAdapters_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
