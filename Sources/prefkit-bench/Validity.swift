import ArgumentParser
import Foundation
import PrefCore
import PrefCurate
import PrefFormats
import PrefIO
import PrefTrain

/// The score's validity benchmark (bench/validity.sh): label-noise variants of a real set, scored
/// under shared conditions over several seeds.
struct BenchValidity: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "validity", abstract: "Score label-noise variants of a dataset over seeds.")

    @Argument(help: "Normalized pairs (one real set).") var input: String
    @Option(name: .long, help: "Name in the table.") var name: String = "data"
    @Option(name: .long, parsing: .unconditional, help: "Trusted eval pairs held out once.") var evalSize: Int = 400
    @Option(name: .long, help: "Flipped fractions.") var noise: String = "0,0.1,0.2,0.3,0.4,0.5"
    @Option(name: .long, help: "Seeds.") var seeds: String = "0,1,2"
    @Option(name: .long, help: "Budget preset.") var budget: String = "quick"
    @Option(name: .long, parsing: .unconditional) var dpoEpochs: Double?
    @Option(name: .long, parsing: .unconditional) var dpoSteps: Int?
    @Option(name: .long, parsing: .unconditional) var lr: Double?
    @Option(name: .long, parsing: .unconditional) var beta: Double?
    @Option(name: .long, parsing: .unconditional) var sftSteps: Int?
    @Option(name: .long, parsing: .unconditional) var maxTrainPairs: Int?
    @Option(name: .long) var metric: String = "sum"
    @Option(name: .long) var referenceOn: String = "both"
    @Option(name: .long, help: "Write every run (per-pair margins included) as JSON here.") var json: String?
    @Option(name: .long, parsing: .unconditional) var threads: Int = 2
    @Option(name: .long, help: "Write eval.jsonl and train-<pct>.jsonl (first seed's flips) here for `prefkit compare`, and score nothing.") var writeVariants: String?

    func run() throws {
        guard let b = ScoreSettings.Budget(rawValue: budget), let m = ScoreSettings.Metric(rawValue: metric),
              let ro = ScoreSettings.ReferenceOn(rawValue: referenceOn) else { throw ValidationError("bad --budget, --metric or --reference-on") }
        var s = ScoreSettings.preset(b)
        s.metric = m; s.referenceOn = ro; s.threads = threads
        if let v = dpoEpochs { s.dpoEpochs = v }
        if let v = dpoSteps { s.dpoSteps = v }
        if let v = lr { s.dpoLR = v }
        if let v = beta { s.betas = [v] }
        if let v = sftSteps { s.sftSteps = v }
        if let v = maxTrainPairs { s.maxTrainPairs = v }
        BLAS.setThreads(threads)
        let inputs = try InputExpander.expand([input])
        let pairs = try PairSource.readAll(inputs, threads: threads).pairs
        if let dir = writeVariants {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let (train, eval) = Validity.holdOut(pairs, evalSize: evalSize)
            func write(_ ps: [Pair], _ file: String) throws {
                var b = ByteBuffer()
                for p in ps { p.write(to: &b) }
                try EncodedFile.writeWhole(b.bytes, to: dir + "/" + file)
            }
            try write(eval, "eval.jsonl")
            let seed = seeds.split(separator: ",").compactMap { UInt64($0) }.first ?? 0
            for q in noise.split(separator: ",").compactMap({ Double($0) }) {
                try write(Validity.variant(Scorer.sample(train, s.maxTrainPairs, seed: seed), flipping: q, seed: seed), String(format: "train-%.0f.jsonl", q * 100))
            }
            return
        }
        let tty = isatty(2) != 0
        let r = try Validity.run(pairs: pairs, evalSize: evalSize, noise: noise.split(separator: ",").compactMap { Double($0) },
                                 seeds: seeds.split(separator: ",").compactMap { UInt64($0) }, settings: s,
                                 log: tty ? { FileHandle.standardError.write("\r\u{1B}[K\($0)".data(using: .utf8)!) } : nil)
        if tty { FileHandle.standardError.write("\r\u{1B}[K".data(using: .utf8)!) }
        print(Validity.table(r.rows, name: name, nEval: r.nEval, nTrain: r.nTrain, baselines: r.baselines), terminator: "")
        if let p = json {
            let rows: [JSONValue] = r.rows.map { row in
                .object([("noise", .double(row.noise)), ("seed", .int(Int64(row.seed))), ("score", .double(row.score)),
                         ("accuracy_sum", .double(row.accuracySum)), ("accuracy_per_token", .double(row.accuracyPerToken)), ("accuracy_length_controlled", .double(row.accuracyLC)),
                         ("eval_loss", .double(row.evalLoss)), ("margin_per_token", .double(row.marginPerToken)), ("margin_sum", .double(row.marginSum)),
                         ("gain", .double(row.gain)), ("gain_low", .double(row.gainLow)), ("label_gain", .double(row.labelGain)), ("best_baseline", .double(row.bestBaseline)),
                         ("seconds", .double(row.seconds)), ("token_margin", .array(row.tokenMargin.map { .double($0) }))])
            }
            try JSONValue.object([("name", .string(name)), ("n_eval", .int(Int64(r.nEval))), ("n_train", .int(Int64(r.nTrain))),
                                  ("baselines", .object(r.baselines.map { ($0.0, .double($0.1)) })), ("runs", .array(rows))]).write(to: p)
        }
    }
}
