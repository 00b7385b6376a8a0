// A pretrained model as the commands use it: its weights (DecoderModel), its tokenizer and chat
// template (ModelText), and pairs rendered the way TRL renders conversational pairs. A model is a
// GGUF file or a Hugging Face directory; a tokenizer may also be a tokenizer.json file.
import Foundation
import PrefCore
import PrefCurate
import PrefIO

/// A model's tokenizer and chat template, and TRL's rendering of pairs with them.
public final class ModelText: PairTokenCounter, @unchecked Sendable {
    public let origin: String
    public let tokenizer: ByteBPETokenizer
    /// The model's chat template, or the plain format (`ModelText.plain`) when it has none.
    public let template: ChatTemplate
    public let hasTemplate: Bool
    let specials: [String: TValue]

    /// The plain format of a model without a chat template: `role: content` turns separated by a
    /// blank line, and `assistant: ` as the generation prompt.
    public static let plain = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"

    init(origin: String, tokenizer: ByteBPETokenizer, template: String?) throws {
        self.origin = origin
        self.tokenizer = tokenizer
        hasTemplate = template != nil
        self.template = try ChatTemplate(template ?? ModelText.plain)
        func token(_ id: Int32?) -> TValue { id.map { .string(String(decoding: tokenizer.tokens[Int($0)], as: UTF8.self)) } ?? .undefined }
        specials = ["bos_token": token(tokenizer.bos), "eos_token": token(tokenizer.eos)]
    }

    /// Whether a path names a GGUF file (by its magic, whatever its name).
    public static func isGGUF(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 4)) == Data("GGUF".utf8)
    }

    static func isDirectory(_ path: String) -> Bool {
        var d: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &d) && d.boolValue
    }

    /// The tokenizer and template of a GGUF file, a Hugging Face directory (tokenizer.json,
    /// tokenizer_config.json, chat_template.jinja) or a tokenizer.json file (with the
    /// tokenizer_config.json beside it, if any).
    public static func load(_ path: String) throws -> ModelText {
        if isDirectory(path) { return try hf(directory: path, tokenizerJSON: path + "/tokenizer.json") }
        if isGGUF(path) { return try ModelText(gguf: try GGUFFile(path: path)) }
        guard FileManager.default.isReadableFile(atPath: path) else { throw TrainError("\(path) does not exist or is unreadable") }
        return try hf(directory: (path as NSString).deletingLastPathComponent, tokenizerJSON: path)
    }

    convenience init(gguf f: GGUFFile) throws {
        try self.init(origin: f.path, tokenizer: try ByteBPETokenizer(gguf: f), template: f.metadata["tokenizer.chat_template"]?.string)
    }

    static func hf(directory dir: String, tokenizerJSON: String) throws -> ModelText {
        let fm = FileManager.default
        guard fm.isReadableFile(atPath: tokenizerJSON) else { throw TrainError("\(dir) has no tokenizer.json (prefkit reads tokenizers in that form)") }
        var template: String? = nil, bos: String? = nil, eos: String? = nil
        let configPath = dir + "/tokenizer_config.json"
        if fm.isReadableFile(atPath: configPath) {
            let cfg = try JSONValue.parse(bytes: Sources.readAll(configPath))
            func special(_ v: JSONValue?) -> String? { v?.stringValue ?? v?["content"]?.stringValue }
            bos = special(cfg["bos_token"])
            eos = special(cfg["eos_token"])
            switch cfg["chat_template"] {
            case .string(let t)?: template = t
            case .array(let named)?:
                // Several named templates: the default one, as transformers picks.
                template = named.first { $0["name"]?.stringValue == "default" }?["template"]?.stringValue
            default: break
            }
        }
        if template == nil, fm.isReadableFile(atPath: dir + "/chat_template.jinja") {
            template = String(decoding: try Sources.readAll(dir + "/chat_template.jinja"), as: UTF8.self)
        }
        return try ModelText(origin: dir, tokenizer: try ByteBPETokenizer(tokenizerJSON: tokenizerJSON, bos: bos, eos: eos), template: template)
    }

    /// Token lengths of a pair as rendered for training (`PairTokenCounter`).
    public func count(_ p: Pair) throws -> TokenCounts {
        guard p.isPlainText else { throw TrainError("pair \(p.id) holds content other than text (images, tools), which the chat template is not given") }
        let r = try render(p)
        return TokenCounts(prompt: r.prompt.count, chosen: r.chosen.count, rejected: r.rejected.count)
    }

    static func messages(_ ms: [Message]) -> [[(String, TValue)]] {
        ms.map { [("role", .string("\($0.role.name)")), ("content", .string($0.text))] }
    }

    /// TRL's rendering of a conversational pair: the prompt is the template applied to the prompt
    /// messages with the generation prompt; each reply is what the template adds after that for
    /// prompt + reply. Token ids of each part, tokenized on their own.
    public func render(_ p: Pair) throws -> (prompt: [Int32], chosen: [Int32], rejected: [Int32]) {
        let prompt = try template.render(messages: ModelText.messages(p.prompt), addGenerationPrompt: true, extra: specials)
        func reply(_ r: [Message]) throws -> [Int32] {
            let full = try template.render(messages: ModelText.messages(p.prompt + r), addGenerationPrompt: false, extra: specials)
            guard full.hasPrefix(prompt) else {
                throw TrainError("the chat template renders the prompt differently with and without the reply: pair \(p.id) cannot be split into prompt and reply")
            }
            return tokenizer.encode(String(full.dropFirst(prompt.count)))
        }
        return (tokenizer.encode(prompt), try reply(p.chosen), try reply(p.rejected))
    }
}

public final class PretrainedModel: @unchecked Sendable {
    public let path: String
    public let model: DecoderModel<Float>
    public let text: ModelText
    public var tokenizer: ByteBPETokenizer { text.tokenizer }

    /// Whether a path is a pretrained model rather than a prefkit checkpoint: a GGUF file, or a
    /// directory whose config.json names one of the supported architectures.
    public static func isPretrained(_ path: String) -> Bool {
        if ModelText.isGGUF(path) { return true }
        guard ModelText.isDirectory(path), let v = try? JSONValue.parse(bytes: Sources.readAll(path + "/config.json")) else { return false }
        let arch = v["architectures"]?.arrayValue?.first?.stringValue ?? ""
        return DecoderModel<Float>.hfArchitectures.contains(arch) || ["llama", "mistral", "qwen2", "gpt_neox"].contains(v["model_type"]?.stringValue ?? "")
    }

    /// A GGUF file or a Hugging Face directory.
    public init(path: String) throws {
        self.path = path
        if ModelText.isDirectory(path) {
            model = try DecoderModel(hfDirectory: path)
            text = try ModelText.hf(directory: path, tokenizerJSON: path + "/tokenizer.json")
        } else if ModelText.isGGUF(path) {
            let f = try GGUFFile(path: path)
            text = try ModelText(gguf: f)
            model = try DecoderModel(gguf: f)
        } else {
            throw TrainError("\(path) is neither a GGUF file nor a Hugging Face model directory")
        }
        guard text.tokenizer.vocabSize <= model.config.vocab else {
            throw TrainError("\(path): the tokenizer has \(text.tokenizer.vocabSize) tokens, the model \(model.config.vocab)")
        }
    }

    public func render(_ p: Pair) throws -> (prompt: [Int32], chosen: [Int32], rejected: [Int32]) { try text.render(p) }

    /// Summed log-probabilities of two replies after one prompt, truncated as scoring does (the
    /// prompt keeps its end, each reply its start, prompt + reply at most `maxLength` tokens), in one
    /// packed pass (the prompt once); nil when a reply has no token left.
    public func pairLogps(prompt: [Int32], chosen: [Int32], rejected: [Int32], maxLength: Int, maxPrompt: Int) -> (chosen: (Double, Int), rejected: (Double, Int))? {
        guard let f = fit(prompt: prompt, chosen: chosen, rejected: rejected, maxLength: maxLength, maxPrompt: maxPrompt) else { return nil }
        let lp = model.replyLogprobs(prompt: f.prompt, replies: [f.chosen, f.rejected])
        return ((lp[0], f.chosen.count), (lp[1], f.rejected.count))
    }

    /// A rendered pair truncated as scoring does (the prompt keeps its end, each reply its start,
    /// prompt + reply at most `maxLength` tokens and the packed pass within the context); nil when
    /// nothing of the prompt or of a reply is left.
    func fit(prompt: [Int32], chosen: [Int32], rejected: [Int32], maxLength: Int, maxPrompt: Int) -> (prompt: [Int32], chosen: [Int32], rejected: [Int32])? {
        let limit = min(maxLength, model.config.context)
        guard let c = ChatRender.fit(prompt, chosen, maxLength: limit, maxPrompt: maxPrompt),
              let r = ChatRender.fit(prompt, rejected, maxLength: limit, maxPrompt: maxPrompt), !c.prompt.isEmpty,
              c.prompt.count + c.response.count + r.response.count <= model.config.context else { return nil }
        return (c.prompt, c.response, r.response)
    }

    /// `body(k)` for k in 0..<n, `threads` at a time (each item on one core, so results do not
    /// depend on the thread count), results in order.
    static func parallel<R>(_ n: Int, threads: Int, _ body: @Sendable (Int) -> R?) -> [R?] {
        let results = ResultSlots<R>(n)
        let workers = max(1, min(threads, n))
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            var k = w
            while k < n { results.set(k, body(k)); k += workers }
        }
        return (0..<n).map { results.get($0) }
    }

    /// `prefkit logps` with a pretrained model: per pair in order, the same fields as for a prefkit
    /// checkpoint. Pairs run `threads` at a time, each on one core (single-threaded BLAS: the matrices
    /// of one pair are too small to share well), so results do not depend on the thread count.
    /// Returns the pairs left out (no reply token within the length, or not plain text).
    public func writeLogps(_ pairs: [Pair], maxLength: Int, maxPromptLength: Int, threads: Int, to out: EncodedFile) throws -> Int {
        BLAS.setThreads(1)
        var dropped = 0
        let chunk = max(1, threads) * 8
        for start in stride(from: 0, to: pairs.count, by: chunk) {
            let part = Array(pairs[start..<min(pairs.count, start + chunk)])
            // Rendering (templates, tokenizer) here; the forward passes in parallel.
            let rendered: [(prompt: [Int32], chosen: [Int32], rejected: [Int32])?] = try part.map { p in p.isPlainText ? try render(p) : nil }
            let results = PretrainedModel.parallel(part.count, threads: threads) { k in
                rendered[k].flatMap { r in pairLogps(prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, maxLength: maxLength, maxPrompt: maxPromptLength) }
            }
            var b = ByteBuffer()
            for (k, p) in part.enumerated() {
                guard let (lc, lr) = results[k] else { dropped += 1; continue }
                b.appendJSONValue(.object([("id", .string(p.id)), ("logp_chosen", .double(lc.0)), ("logp_rejected", .double(lr.0)),
                                           ("n_chosen", .int(Int64(lc.1))), ("n_rejected", .int(Int64(lr.1)))]))
                b.append(0x0A)
            }
            try out.write(b.bytes)
        }
        return dropped
    }
}

/// Results written by worker threads, one slot each, read after they finish.
final class ResultSlots<T>: @unchecked Sendable {
    private var items: [T?]
    private let lock = NSLock()
    init(_ n: Int) { items = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ v: T?) { lock.lock(); items[i] = v; lock.unlock() }
    func get(_ i: Int) -> T? { lock.lock(); defer { lock.unlock() }; return items[i] }
}
