import ArgumentParser
import Foundation
import PrefCore
import PrefTrain

struct BenchTokenizer: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenizer", abstract: "Time BPE training on a text file.")
    @Argument var file: String
    @Option var vocabSize = 4096

    func run() throws {
        let text = try String(contentsOfFile: file, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let t0 = Date()
        let tok = BPETokenizer.train(texts: lines, vocabSize: vocabSize)
        let train = Date().timeIntervalSince(t0)
        let t1 = Date()
        var n = 0
        for l in lines.prefix(20000) { n += tok.encode(l).count }
        let enc = Date().timeIntervalSince(t1)
        let bytes = lines.prefix(20000).reduce(0) { $0 + $1.utf8.count }
        print(String(format: "{\"bytes\": %d, \"vocab\": %d, \"train_seconds\": %.2f, \"encode_MB_per_s\": %.1f, \"tokens_per_byte\": %.3f}",
                     text.utf8.count, tok.vocabSize, train, Double(bytes) / enc / 1e6, Double(n) / Double(bytes)))
    }
}
