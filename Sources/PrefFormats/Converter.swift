// `convert`: inputs -> records -> format adapters -> normalized pairs, in parallel batches with
// deterministic output order, and every record accounted for.
import Foundation
import PrefCore
import PrefIO

public struct ConvertConfig: Sendable {
    public var inputs: [InputFile]
    /// The corpus of every input (`--from`); nil: detected per input.
    public var corpus: Corpus? = nil
    public var options = FormatOptions()
    public var strict = false
    public var threads = max(1, ProcessInfo.processInfo.activeProcessorCount)
    public var maxRecordBytes = 256 << 20
    public var batchBytes = 1 << 20
    public init(inputs: [InputFile]) { self.inputs = inputs }
}

public struct StrictAbort: Error, CustomStringConvertible {
    public var entry: RecordFailure
    /// Records read before the stop that no tally counts yet (a join's buffered rows).
    public var uncounted = 0
    public var description: String { "\(entry.file):\(entry.line): \(entry.reason): \(entry.message)" }
}

final class BatchResult {
    var out = ByteBuffer()
    var ends: [Int] = []
    var tally = Tally()
    var rejects: [RecordFailure] = []
    var removedRecords = ByteBuffer()
}

struct WorkItem: Sendable {
    var batch: RecordBatch
    var corpus: Corpus?
}

public final class Converter {
    public let config: ConvertConfig
    public private(set) var total = Tally()
    public private(set) var inputs: [InputReport]
    /// Called for each rejected record, in input order (e.g. to print the first few).
    public var onReject: ((RecordFailure) -> Void)?
    public var onRejectWrite: ((RecordFailure) throws -> Void)?
    public var onRemovedWrite: (([UInt8]) throws -> Void)?

    public init(_ config: ConvertConfig) {
        self.config = config
        inputs = config.inputs.map { InputReport(path: $0.path) }
    }

    /// Runs the conversion, writing pairs to `sink`. Throws `StrictAbort` in strict mode.
    /// Inputs are converted in order; record-per-pair formats go through the parallel pipeline,
    /// join formats (Stack Exchange, OpenAssistant) through their own single-file joins.
    public func run(sink: RecordSink) throws {
        let formats = config.inputs.map { input -> Corpus? in
            if let c = config.corpus { return c }
            // A stream is opened once: its format is detected from its own first batch.
            return input.isStream ? nil : Converter.detectFile(input.path, maxRecordBytes: config.maxRecordBytes)
        }
        var i = 0
        while i < config.inputs.count {
            if let f = formats[i], case .join(let join) = f.kind {
                // A join needs the whole input (its rows relate across lines): never a byte range of it.
                guard config.inputs[i].range == nil else {
                    throw OutputError("\(config.inputs[i].display) is \(f.name) data, which is joined across its rows: it cannot be cut into byte ranges; shard it as several files", usage: true)
                }
                try runJoin(i, f.name, join, sink: sink)
                i += 1
                continue
            }
            var j = i
            while j < config.inputs.count && !(formats[j]?.isJoin ?? false) { j += 1 }
            try runPipeline(Array(i..<j), formats: formats, sink: sink)
            i = j
        }
    }

    /// The corpus `--from auto` sees in a file, by name (nil: none).
    public static func detectFormat(_ path: String, maxRecordBytes: Int = 64 << 20) -> String? {
        detectFile(path, maxRecordBytes: min(maxRecordBytes, 64 << 20))?.name
    }

    /// Detects a file's corpus from its first bytes (a corpus's byte signature, such as XML),
    /// then from its first records.
    static func detectFile(_ path: String, maxRecordBytes: Int) -> Corpus? {
        guard let (src, _) = try? Sources.open(path) else { return nil }
        // Bounded by the record limit like every other read: a huge first line is not buffered past it.
        let reader = RecordReader(src, maxRecordBytes: maxRecordBytes, chunk: 1 << 16)
        if let b = reader.peekBytes(4) ?? reader.peekByte().map({ [$0] }), let c = Corpora.sniff(b) { return c }
        guard let batch = reader.nextBatch(targetBytes: 1 << 16, maxRecords: 64) else { return nil }
        return detect(batch)
    }

    /// Publishes one unit of results in order: rejects (strict mode stops here), pairs, removed records, counts.
    func publish(_ idx: Int, out: ByteBuffer, ends: [Int], tally: Tally, rejects: [RecordFailure], removed: ByteBuffer, sink: RecordSink) throws {
        for e in rejects {
            onReject?(e)
            try onRejectWrite?(e)
            if config.strict {
                // The unit's records up to the stop are read (its tally ends there in strict mode).
                total.add(tally)
                inputs[idx].tally.add(tally)
                throw StrictAbort(entry: e)
            }
        }
        try sink.write(out.bytes, ends: ends)
        if removed.count > 0 { try onRemovedWrite?(removed.bytes) }
        total.add(tally)
        inputs[idx].tally.add(tally)
    }

    func runJoin(_ idx: Int, _ name: String, _ join: @Sendable (ByteSource, FormatOptions, Int, JoinEmitter) throws -> JoinStats, sink: RecordSink) throws {
        let input = config.inputs[idx]
        inputs[idx].format = name
        let emit = JoinEmitter(format: name, display: input.display) { [unowned self] e in
            do {
                try self.publish(idx, out: e.out, ends: e.ends, tally: e.tally, rejects: e.rejects, removed: e.removedOut, sink: sink)
            } catch var stop as StrictAbort {
                // Rows the join read but has not counted yet (buffered for the join) were read too.
                stop.uncounted = max(0, e.taken - (self.inputs[idx].tally.read))
                self.inputs[idx].tally.read += stop.uncounted
                throw stop
            }
        }
        emit.strict = config.strict
        let opened: OpenedInput
        switch OpenedInput.open(input.path) {
        case .success(let o): opened = o
        case .failure(let f):
            emit.reject(line: f.line, offset: f.offset, reason: f.reason, message: f.message, raw: f.raw)
            try emit.flushNow()
            inputs[idx].compression = "-"; inputs[idx].layout = "-"
            return
        }
        let comp = opened.compression
        let src = ProgressSource(opened.source, total: Progress.size(of: input.path), done: { opened.bytesRead })
        defer { Progress.shared.end() }
        inputs[idx].compression = comp.rawValue
        let stats = try join(src, config.options, config.maxRecordBytes, emit)
        inputs[idx].layout = stats.layout
        spillReport.append((input.display, stats.spilled, stats.peakBytes))
        try emit.flushNow()
        inputs[idx].bytes = opened.bytesRead
    }

    /// For reports and tests: per join input, records spilled to disk and the peak buffered bytes.
    public private(set) var spillReport: [(input: String, spilled: Int, peakBytes: Int)] = []

    func runPipeline(_ indices: [Int], formats: [Corpus?], sink: RecordSink) throws {
        // One adapter per record corpus, built once from the options.
        var adapters: [String: FormatAdapter] = [:]
        for (name, a) in Corpora.recordAdapters(config.options) { adapters[name] = a }
        let frozenAdapters = adapters
        let displays = config.inputs.map(\.display)
        let strict = config.strict
        let reports = ReportBox(inputs)
        var reading = InputBatches(indices.map { config.inputs[$0] })
        reading.maxRecordBytes = config.maxRecordBytes
        reading.batchBytes = config.batchBytes
        let readingInputs = reading

        try OrderedPipeline.run(threads: config.threads, produce: { emit in
            // The producer detects each input's corpus from its first batch (unless --from named it).
            var corpus: [Corpus?] = indices.map { formats[$0] }
            var seen = [Bool](repeating: false, count: indices.count)
            try readingInputs.forEach({ k, batch in
                batch.inputIndex = indices[k]
                if !seen[k] { seen[k] = true; if corpus[k] == nil { corpus[k] = Converter.detect(batch) } }
                try emit(WorkItem(batch: batch, corpus: corpus[k]))
            }, finished: { k, info in
                let name = !info.opened ? "-" : corpus[k]?.name ?? (info.batches == 0 ? "empty" : "undetected")
                reports.update(indices[k]) {
                    $0.format = name; $0.compression = info.compression; $0.layout = info.layout; $0.bytes = info.bytes
                }
            })
        }, work: { it in
            let adapter = it.corpus.flatMap { frozenAdapters[$0.name] }
            return (it.batch.inputIndex, Converter.process(it.batch, adapter: adapter, format: it.corpus?.name, display: displays[it.batch.inputIndex],
                                                           strict: strict))
        }, consume: { (idx: Int, r: BatchResult) in
            try publish(idx, out: r.out, ends: r.ends, tally: r.tally, rejects: r.rejects, removed: r.removedRecords, sink: sink)
        })
        let infos = reports.snapshot()
        for i in indices {
            inputs[i].format = infos[i].format
            inputs[i].compression = infos[i].compression
            inputs[i].layout = infos[i].layout
            inputs[i].bytes = infos[i].bytes
        }
    }

    /// Input reports filled by the producer thread, read once the pipeline has finished.
    final class ReportBox: @unchecked Sendable {
        private var items: [InputReport]
        private let lock = NSLock()
        init(_ i: [InputReport]) { items = i }
        func update(_ i: Int, _ f: (inout InputReport) -> Void) { lock.lock(); f(&items[i]); lock.unlock() }
        func snapshot() -> [InputReport] { lock.lock(); defer { lock.unlock() }; return items }
    }

    /// Auto-detection from the first records of a file that parse.
    static func detect(_ batch: RecordBatch) -> Corpus? {
        var scanner = JSONScanner()
        for i in 0..<min(batch.count, 64) {
            let f: Corpus? = batch.withRecord(i) { buf in
                guard let doc = try? scanner.parse(buf) else { return nil }
                return Corpora.detect(doc.root)
            }
            if let f { return f }
        }
        return nil
    }

    /// What every pair gets after its adapter: TRL's `tools` and `images` columns from the record
    /// (unless the adapter set them from elsewhere, as OpenAI's `input.tools`), and its lists of
    /// content parts kept as given when the pair is multimodal (a non-text part or an `images`
    /// column), else flattened to their text, so that every message of a pair has one shape.
    static func finish(_ o: AdapterOutcome, _ r: JRef) -> AdapterOutcome {
        let tools = r["tools"].flatMap { $0.isNull ? nil : $0.value }, images = r["images"].flatMap { $0.isNull ? nil : $0.value }
        func finish(_ p: Pair) -> Pair {
            var p = p
            if p.tools == nil { p.tools = tools }
            if p.images == nil { p.images = images }
            let multimodal = p.images != nil || p.prompt.contains(where: \.hasNonTextParts) || p.chosen.contains(where: \.hasNonTextParts)
                || p.rejected.contains(where: \.hasNonTextParts)
            if !multimodal {
                func flat(_ ms: inout [Message]) { for i in ms.indices where ms[i].parts != nil { ms[i].parts = nil } }
                flat(&p.prompt); flat(&p.chosen); flat(&p.rejected)
            }
            return p
        }
        switch o {
        case .pair(let p): return .pair(finish(p))
        case .pairs(let ps, let skipped): return .pairs(ps.map { ($0.key, finish($0.pair)) }, skipped: skipped)
        case .removed: return o
        }
    }

    /// `strict`: the batch ends at its first bad record (by line): the tally then counts exactly the
    /// records read up to the stop, so `--strict` reports what was read, not a whole batch.
    static func process(_ batch: RecordBatch, adapter: FormatAdapter?, format: String?, display: String, strict: Bool = false) -> BatchResult {
        let res = BatchResult()
        res.out = ByteBuffer(capacity: batch.data.count + batch.data.count / 4)
        var scanner = JSONScanner()
        let fmt = format ?? "unknown"
        // The reader's own failures (a record too large, broken JSON framing) stand at their lines;
        // in strict mode only the first one can matter, and only if no record before it is bad.
        var pendingFailure = strict ? batch.failures.min { $0.line < $1.line } : nil
        func countFailure(_ f: RecordFailure) {
            res.tally.read += 1
            res.tally.rejected[f.reason, default: 0] += 1
            res.rejects.append(f.at(display))
        }
        if !strict { for f in batch.failures { countFailure(f) } }
        func write(_ p: Pair, source: String) {
            var pair = p
            pair.source = source
            pair.id = hex16(XXH64.hash(source))
            pair.write(to: &res.out)
            res.ends.append(res.out.count)
            res.tally.pairs += 1
        }
        for i in 0..<batch.count {
            if strict && !res.rejects.isEmpty { break }
            if let f = pendingFailure, batch.lines[i] > f.line { countFailure(f); pendingFailure = nil; break }
            res.tally.read += 1
            let line = batch.lines[i], number = batch.numbers[i], offset = batch.offsets[i]
            func reject(_ reason: String, _ message: String) {
                res.tally.rejected[reason, default: 0] += 1
                let raw = batch.withRecord(i) { Array($0) }
                res.rejects.append(RecordFailure(file: display, line: line, offset: offset, reason: reason, message: message, raw: raw))
            }
            let outcome: Result<AdapterOutcome, FormatError> = batch.withRecord(i) { buf in
                do {
                    let doc = try scanner.parseRecord(buf, streamOffset: offset)
                    guard let adapter else {
                        throw FormatError("unknown_format", "the input's format could not be detected; name it with --from (one of \(Corpora.all.map(\.name).filter { $0 != "generic" }.joined(separator: ", ")), or generic with --map)")
                    }
                    return .success(Converter.finish(try adapter.convert(doc.root), doc.root))
                } catch let e as FormatError {
                    return .failure(e)
                } catch { return .failure(FormatError("error", "\(error)")) }
            }
            switch outcome {
            case .failure(let e):
                reject(e.reason, e.message)
            case .success(.removed(let reason, let message)):
                res.tally.removed[reason, default: 0] += 1
                batch.withRecord(i) { raw in
                    RemovedRecord.append(to: &res.removedRecords, reason: reason, stage: "convert", source: "\(fmt):\(display):\(number)",
                                         message: message, record: raw)
                }
            case .success(.pair(let pair)):
                if let (reason, message) = pair.validate() { reject(reason, message); continue }
                write(pair, source: "\(fmt):\(display):\(number)")
                res.tally.written += 1
            case .success(.pairs(let pairs, let skipped)):
                // One record, several pairs: all are written or, if one is malformed, the record is rejected.
                if let (reason, message) = pairs.lazy.compactMap({ $0.pair.validate() }).first { reject(reason, message); continue }
                for (key, pair) in pairs { write(pair, source: "\(fmt):\(display):\(number):\(key)") }
                for (k, v) in skipped { res.tally.skipped[k, default: 0] += v }
                res.tally.written += 1
            }
        }
        if let f = pendingFailure, res.rejects.isEmpty { countFailure(f) }
        return res
    }
}
