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

    /// Summed log-probability of `reply` after `prompt`, truncated as scoring does (the prompt keeps
    /// its end, the reply its start, at most `maxLength` tokens); nil when no reply token fits.
    public func replyLogp(prompt: [Int32], reply: [Int32], maxLength: Int, maxPrompt: Int) -> (logp: Double, count: Int)? {
        guard let s = ChatRender.fit(prompt, reply, maxLength: min(maxLength, model.config.context), maxPrompt: maxPrompt) else { return nil }
        guard !s.prompt.isEmpty else { return nil }
        let tokens = s.prompt + s.response
        return (model.logprobs(tokens, targets: s.prompt.count..<tokens.count).reduce(0, +), s.response.count)
    }

    /// `prefkit logps` with a pretrained model: per pair in order, the same fields as for a prefkit
    /// checkpoint. Returns the pairs left out (no reply token within the length, or not plain text).
    public func writeLogps(_ pairs: [Pair], maxLength: Int, maxPromptLength: Int, to out: EncodedFile) throws -> Int {
        var dropped = 0
        for p in pairs {
            guard p.isPlainText else { dropped += 1; continue }
            let (pr, c, r) = try render(p)
            guard let lc = replyLogp(prompt: pr, reply: c, maxLength: maxLength, maxPrompt: maxPromptLength),
                  let lr = replyLogp(prompt: pr, reply: r, maxLength: maxLength, maxPrompt: maxPromptLength) else { dropped += 1; continue }
            var b = ByteBuffer()
            b.appendJSONValue(.object([("id", .string(p.id)), ("logp_chosen", .double(lc.logp)), ("logp_rejected", .double(lr.logp)),
                                       ("n_chosen", .int(Int64(lc.count))), ("n_rejected", .int(Int64(lr.count)))]))
            b.append(0x0A)
            try out.write(b.bytes)
        }
        return dropped
    }
}
