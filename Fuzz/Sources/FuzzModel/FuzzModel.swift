// Model directories on arbitrary bytes: a valid tiny checkpoint is written once, then each input
// replaces one of its files (the first byte picks config.json, model.safetensors or tokenizer.json)
// and the directory is loaded, as `logps --model` and `score --ref-model` do.
import Foundation
import FuzzSupport
import PrefIO
import PrefTrain

/// The valid checkpoint (`DIR/pristine`) and the directory each input is loaded from (`DIR/model`).
let dir: String = {
    var t = Array("/tmp/prefkit-fuzz-model-XXXXXX".utf8CString)
    let d = t.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
    let tok = BPETokenizer.train(texts: ["the quick brown fox jumps over the lazy dog", "a careful helpful answer"], vocabSize: 300)
    let m = try! GPT<Float>(config: GPTConfig(vocabSize: tok.vocabSize, maxT: 16, nLayer: 1, nHead: 2, nEmbd: 8), maxBatch: 2)
    m.initialize(seed: 1)
    try! Checkpoint.save(m, tokenizer: tok, to: d + "/pristine")
    try! FileManager.default.createDirectory(atPath: d + "/model", withIntermediateDirectories: true)
    return d
}()
let files = ["config.json", "model.safetensors", "tokenizer.json"]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size), let first = bytes.first else { return 0 }
    ModelBudget.limit = 256 << 20
    let k = Int(first) % files.count
    for (i, f) in files.enumerated() {
        let data = i == k ? Data(bytes.dropFirst()) : ((try? Data(contentsOf: URL(fileURLWithPath: dir + "/pristine/" + f))) ?? Data())
        try? data.write(to: URL(fileURLWithPath: dir + "/model/" + f))
    }
    _ = try? Checkpoint.load(dir + "/model", maxBatch: 2, threads: 1)
    return 0
}

@_cdecl("FuzzModel_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
