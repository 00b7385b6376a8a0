// Phase files (dedup sign/cluster/apply, split, stats partials) on arbitrary bytes: the index,
// the segment table, every segment read whole and streamed, and a sign set built over the file.
import FuzzSupport
import PrefCurate
import PrefIO

let scratch = ScratchFile(name: "sign-00000-of-00001.bin")

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    scratch.write(bytes)
    guard let f = try? PhaseFileReader(path: scratch.path) else { return 0 }
    for name in f.segments.keys.sorted() {
        _ = try? f.whole(name)
        if let s = try? f.stream(name, chunk: 4096) { while let chunk = try? s.next(17), chunk.count > 0 {} }
    }
    if let set = try? SignSet(readers: [f], purpose: .dedup) {
        for k in 0..<min(set.total, 1000) { _ = try? set.row(dense: k) }
        try? set.forEachRow(0) { _, _, _ in }
    }
    return 0
}

@_cdecl("FuzzPhase_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
