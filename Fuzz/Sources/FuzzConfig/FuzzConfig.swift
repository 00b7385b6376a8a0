// The pipeline config (YAML through Yams, then prefkit's own checks) on arbitrary text.
import FuzzSupport
import PrefPipeline

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let bytes = fuzzBytes(data, size) else { return 0 }
    _ = try? PipelineConfig.parse(String(decoding: bytes, as: UTF8.self), path: "/tmp/fuzz/p.yaml", display: "p.yaml")
    return 0
}

@_cdecl("FuzzConfig_main")
public func fuzzerMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt { runFuzzer(argc, argv, fuzz) }
