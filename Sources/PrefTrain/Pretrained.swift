// A pretrained model as the commands use it: the GGUF file's weights (LlamaModel), its tokenizer
// and its chat template, and pairs rendered the way TRL renders conversational pairs.
import Foundation
import PrefCore
import PrefIO

public final class PretrainedModel: @unchecked Sendable {
    public let path: String
    public let model: LlamaModel
    public let tokenizer: ByteBPETokenizer
    /// The model's chat template, or nil: the plain format (`PretrainedModel.plain`).
    public let template: ChatTemplate?
    let specials: [String: TValue]

    /// The plain format of a model without a chat template: `role: content` turns separated by a
    /// blank line, and `assistant: ` as the generation prompt.
    public static let plain = "{% for m in messages %}{{ m['role'] + ': ' + m['content'] + '\\n\\n' }}{% endfor %}{% if add_generation_prompt %}{{ 'assistant: ' }}{% endif %}"

    /// Whether a path names a GGUF file (by its magic, whatever its name).
    public static func isGGUF(_ path: String) -> Bool {
        guard let h = FileHandle(forReadingAtPath: path) else { return false }
        defer { try? h.close() }
        return (try? h.read(upToCount: 4)) == Data("GGUF".utf8)
    }

    public init(path: String) throws {
        guard PretrainedModel.isGGUF(path) else {
            throw TrainError("\(path) is not a GGUF file (pretrained models are read from GGUF files; Hugging Face directories of Llama models are not read yet)")
        }
        let f = try GGUFFile(path: path)
        self.path = path
        let tokenizer = try ByteBPETokenizer(gguf: f)
        self.tokenizer = tokenizer
        model = try LlamaModel(gguf: f)
        guard tokenizer.vocabSize <= model.config.vocab else {
            throw TrainError("\(path): the tokenizer has \(tokenizer.vocabSize) tokens, the model \(model.config.vocab)")
        }
        template = try ChatTemplate(f.metadata["tokenizer.chat_template"]?.string ?? PretrainedModel.plain)
        func token(_ id: Int32?) -> TValue { id.map { .string(String(decoding: tokenizer.tokens[Int($0)], as: UTF8.self)) } ?? .undefined }
        specials = ["bos_token": token(tokenizer.bos), "eos_token": token(tokenizer.eos)]
    }

    static func messages(_ ms: [Message]) -> [[(String, TValue)]] {
        ms.map { [("role", .string("\($0.role.name)")), ("content", .string($0.text))] }
    }

    /// TRL's rendering of a conversational pair: the prompt is the template applied to the prompt
    /// messages with the generation prompt; each reply is what the template adds after that for
    /// prompt + reply. Token ids of each part, tokenized on their own.
    public func render(_ p: Pair) throws -> (prompt: [Int32], chosen: [Int32], rejected: [Int32]) {
        let t = template!
        let prompt = try t.render(messages: PretrainedModel.messages(p.prompt), addGenerationPrompt: true, extra: specials)
        func reply(_ r: [Message]) throws -> [Int32] {
            let full = try t.render(messages: PretrainedModel.messages(p.prompt + r), addGenerationPrompt: false, extra: specials)
            guard full.hasPrefix(prompt) else {
                throw TrainError("the chat template renders the prompt differently with and without the reply: pair \(p.id) cannot be split into prompt and reply")
            }
            return tokenizer.encode(String(full.dropFirst(prompt.count)))
        }
        return (tokenizer.encode(prompt), try reply(p.chosen), try reply(p.rejected))
    }

    /// Summed log-probabilities of two replies after one prompt, truncated as scoring does (the
    /// prompt keeps its end, each reply its start, prompt + reply at most `maxLength` tokens), in one
    /// packed pass (the prompt once); nil when a reply has no token left.
    public func pairLogps(prompt: [Int32], chosen: [Int32], rejected: [Int32], maxLength: Int, maxPrompt: Int) -> (chosen: (Double, Int), rejected: (Double, Int))? {
        let limit = min(maxLength, model.config.context)
        guard let c = ChatRender.fit(prompt, chosen, maxLength: limit, maxPrompt: maxPrompt),
              let r = ChatRender.fit(prompt, rejected, maxLength: limit, maxPrompt: maxPrompt), !c.prompt.isEmpty,
              c.prompt.count + c.response.count + r.response.count <= model.config.context else { return nil }
        let lp = model.replyLogprobs(prompt: c.prompt, replies: [c.response, r.response])
        return ((lp[0], c.response.count), (lp[1], r.response.count))
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
            let results = ResultSlots<(chosen: (Double, Int), rejected: (Double, Int))>(part.count)
            DispatchQueue.concurrentPerform(iterations: max(1, min(threads, part.count))) { w in
                var k = w
                while k < part.count {
                    if let r = rendered[k] {
                        results.set(k, pairLogps(prompt: r.prompt, chosen: r.chosen, rejected: r.rejected, maxLength: maxLength, maxPrompt: maxPromptLength))
                    }
                    k += max(1, min(threads, part.count))
                }
            }
            var b = ByteBuffer()
            for (k, p) in part.enumerated() {
                guard let (lc, lr) = results.get(k) else { dropped += 1; continue }
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
