import Foundation
import XCTest

/// Locations shared by the test targets: the repo's fixtures and the real samples in ../shared.
public enum Paths {
    public static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    public static func fixture(_ name: String) -> String { repo + "/fixtures/" + name }
    /// A real sample from ../shared/realdata; the test is skipped with a message when it is absent.
    public static func realdata(_ name: String) throws -> String {
        let p = repo + "/../shared/realdata/" + name
        guard FileManager.default.fileExists(atPath: p) else {
            throw XCTSkip("real sample ../shared/realdata/\(name) is absent on this machine")
        }
        return p
    }
    public static func tempDir() -> String {
        let d = NSTemporaryDirectory() + "prefkit-test-" + UUID().uuidString
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }
}
