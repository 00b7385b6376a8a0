// The glue every fuzz target shares. SwiftPM links an executable target's entry point as
// `<module>_main`; with -parse-as-library there is none, so each target defines that symbol in
// one line and hands control to libFuzzer's driver here, with its LLVMFuzzerTestOneInput.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

public func runFuzzer(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?,
                      _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt {
    var c = argc, v = argv
    return LLVMFuzzerRunDriver(&c, &v, test)
}

/// The fuzzer's input as bytes.
public func fuzzBytes(_ data: UnsafePointer<UInt8>?, _ size: Int) -> [UInt8]? {
    guard let data else { return nil }
    return Array(UnsafeBufferPointer(start: data, count: size))
}
