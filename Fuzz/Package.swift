// swift-tools-version:6.0
// libFuzzer targets for prefkit's parsers of untrusted input (issues 9 and 22). Built and run by `make fuzz`:
//   swift build -c debug -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
// Each target defines LLVMFuzzerTestOneInput; libFuzzer supplies main. A separate package, so the
// main package's `swift build` never tries to link an executable without a main.
import PackageDescription

let package = Package(
    name: "prefkit-fuzz",
    dependencies: [.package(name: "prefkit", path: "..")],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "PrefIO", package: "prefkit")]),
        .executableTarget(name: "FuzzJSON", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit")]),
        .executableTarget(name: "FuzzAdapters", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit"), .product(name: "PrefCore", package: "prefkit"),
                                                           .product(name: "PrefFormats", package: "prefkit")]),
        .executableTarget(name: "FuzzXML", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit"), .product(name: "PrefFormats", package: "prefkit")]),
        .executableTarget(name: "FuzzHTML", dependencies: ["FuzzSupport", .product(name: "PrefFormats", package: "prefkit")]),
        .executableTarget(name: "FuzzDecode", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit")]),
        .executableTarget(name: "FuzzParquet", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit")]),
        .executableTarget(name: "FuzzThrift", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit")]),
        .executableTarget(name: "FuzzPhase", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit"), .product(name: "PrefCurate", package: "prefkit")]),
        .executableTarget(name: "FuzzModel", dependencies: ["FuzzSupport", .product(name: "PrefIO", package: "prefkit"), .product(name: "PrefTrain", package: "prefkit")]),
        .executableTarget(name: "FuzzConfig", dependencies: ["FuzzSupport", .product(name: "PrefPipeline", package: "prefkit")]),
    ]
)
