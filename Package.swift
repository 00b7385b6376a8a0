// swift-tools-version:6.0
import PackageDescription

// Linux only: the code calls Glibc directly (signals, file descriptors, process limits).
let package = Package(
    name: "prefkit",
    products: [
        .executable(name: "prefkit", targets: ["prefkit"]),
        .executable(name: "prefkit-bench", targets: ["prefkit-bench"]),
        .library(name: "PrefIO", targets: ["PrefIO"]),
        .library(name: "PrefCore", targets: ["PrefCore"]),
        .library(name: "PrefFormats", targets: ["PrefFormats"]),
        .library(name: "PrefCurate", targets: ["PrefCurate"]),
        .library(name: "PrefTrain", targets: ["PrefTrain"]),
        .library(name: "PrefPipeline", targets: ["PrefPipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // YAML for pipeline configs (libyaml inside; TOMLKit was the other candidate, but its
        // test dependency swift-checkit is not in the package mirror, so it does not resolve).
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C libraries, found through pkg-config (Debian: libzstd-dev, zlib1g-dev, libxml2-dev, libopenblas-dev, libsnappy-dev).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CXML2", pkgConfig: "libxml-2.0", providers: [.apt(["libxml2-dev"])]),
        .systemLibrary(name: "CSnappy", pkgConfig: "snappy", providers: [.apt(["libsnappy-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        .target(
            name: "PrefIO",
            dependencies: ["CZstd", "CZlib", "CXML2", "CSnappy", "CCrypto"]
        ),
        .target(
            name: "PrefCore",
            dependencies: ["PrefIO"]
        ),
        .target(
            name: "PrefFormats",
            dependencies: ["PrefIO", "PrefCore"]
        ),
        .target(name: "CMinHash"),
        .target(
            name: "PrefCurate",
            dependencies: ["PrefIO", "PrefCore", "CMinHash"]
        ),
        .target(
            name: "PrefTrain",
            dependencies: ["PrefIO", "PrefCore", "PrefCurate", "CBLAS"]
        ),
        // `prefkit pipeline`: a YAML config of stages, run as prefkit processes in one run directory.
        .target(
            name: "PrefPipeline",
            dependencies: ["PrefIO", "PrefCore", .product(name: "Yams", package: "Yams")]
        ),
        .executableTarget(
            name: "prefkit",
            dependencies: [
                "PrefIO", "PrefCore", "PrefFormats", "PrefCurate", "PrefTrain", "PrefPipeline",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "prefkit-bench",
            dependencies: [
                "PrefIO", "PrefCore", "PrefFormats", "PrefCurate", "PrefTrain",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .target(name: "TestSupport", dependencies: ["PrefIO"], path: "Tests/TestSupport"),
        .testTarget(name: "PrefIOTests", dependencies: ["PrefIO", "TestSupport"]),
        .testTarget(name: "PrefCoreTests", dependencies: ["PrefCore", "PrefIO"]),
        .testTarget(name: "PrefFormatsTests", dependencies: ["PrefCore", "PrefFormats", "PrefIO", "TestSupport"]),
        .testTarget(name: "PrefCurateTests", dependencies: ["PrefCurate", "PrefCore", "PrefFormats", "PrefIO", "TestSupport"]),
        .testTarget(name: "PrefTrainTests", dependencies: ["PrefTrain", "PrefCurate", "PrefCore", "PrefFormats", "PrefIO", "TestSupport"]),
        .testTarget(name: "PrefkitCLITests", dependencies: ["PrefCurate", "PrefCore", "PrefFormats", "PrefIO", "TestSupport"]),
        .testTarget(name: "PrefPipelineTests", dependencies: ["PrefPipeline", "PrefCore", "PrefIO", "TestSupport"]),
    ],
    swiftLanguageModes: [.v6]
)
