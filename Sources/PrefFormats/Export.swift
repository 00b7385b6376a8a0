// `prefkit export`: normalized pairs into the layouts the trainers read, each of which `convert`
// reads back to the same pairs (KTO's unpaired rows aside). docs/format.md "Exports" is the contract.
import PrefCore
import PrefIO

public enum ExportTarget: String, Sendable, CaseIterable {
    /// TRL's conversational preference columns (prompt, chosen, rejected; tools, images, scores).
    case trl
    /// OpenAI preference fine-tuning: input.messages, preferred_output, non_preferred_output.
    case openai
    /// LLaMA-Factory ShareGPT ranking data, with its dataset_info.json entry beside the file.
    case llamafactory
    /// axolotl's chat_template.default DPO rows: messages, chosen and rejected message objects.
    case axolotl
    /// KTO / unpaired preference: each pair gives two rows (prompt, completion, label).
    case kto
}

extension ExportTarget {
    /// The Parquet columns of the target's rows; nil where the trainer reads JSON Lines only (OpenAI).
    /// `trl` writes normalized pairs (TRL's columns plus id, source and meta).
    public var parquetLayout: [ParquetColumn]? {
        let msg = ["role", "content"]
        switch self {
        case .trl: return ParquetLayout.pairs
        case .openai: return nil
        case .llamafactory:
            return [.init("conversations", .messages(["from", "value"])), .init("chosen", .message(["from", "value"])),
                    .init("rejected", .message(["from", "value"])), .init("system", .string(optional: true))]
        case .axolotl: return [.init("messages", .messages(msg)), .init("chosen", .message(msg)), .init("rejected", .message(msg))]
        case .kto:
            return [.init("prompt", .messages(msg)), .init("completion", .messages(msg)), .init("label", .bool),
                    .init("tools", .json), .init("images", .json)]
        }
    }
}

/// How a pair becomes KTO's unpaired rows; given explicitly, as a KTO run depends on it.
public enum UnpairRule: String, Sendable, CaseIterable {
    /// The chosen reply is desirable (label true), the rejected one undesirable (false), as TRL's
    /// `unpair_preference_dataset` does.
    case chosenDesirable = "chosen-desirable"
}

public enum Exporter {
    /// The rows one pair gives, or the reason it cannot be expressed in the target.
    public static func rows(_ p: Pair, _ target: ExportTarget, unpair: UnpairRule? = nil) -> Result<[JSONValue], FormatError> {
        func messages(_ ms: [Message]) -> JSONValue { .array(ms.map(message)) }
        switch target {
        case .trl:
            var o: [(String, JSONValue)] = [("prompt", messages(p.prompt)), ("chosen", messages(p.chosen)), ("rejected", messages(p.rejected))]
            if let t = p.tools { o.append(("tools", t)) }
            if let i = p.images { o.append(("images", i)) }
            if let s = p.scoreChosen { o.append(("score_chosen", .double(s))) }
            if let s = p.scoreRejected { o.append(("score_rejected", .double(s))) }
            return .success([.object(o)])
        case .openai:
            // OpenAI takes one assistant message on each side, and no system turn after the first.
            guard p.chosen.count == 1, p.rejected.count == 1 else {
                return .failure(FormatError("multi_turn_response", "OpenAI preference data takes one assistant message per side"))
            }
            guard p.images == nil, !(p.prompt + p.chosen + p.rejected).contains(where: { $0.parts != nil }) else {
                return .failure(FormatError("not_expressible", "images are not part of OpenAI's preference format"))
            }
            var input: [(String, JSONValue)] = [("messages", messages(p.prompt))]
            if let t = p.tools { input.append(("tools", t)) }
            return .success([.object([("input", .object(input)), ("preferred_output", messages(p.chosen)), ("non_preferred_output", messages(p.rejected))])])
        case .llamafactory:
            guard p.chosen.count == 1, p.rejected.count == 1 else {
                return .failure(FormatError("multi_turn_response", "LLaMA-Factory ranking data takes one message per side"))
            }
            guard p.images == nil, p.tools == nil, (p.prompt + p.chosen + p.rejected).allSatisfy({ $0.isPlainText && $0.extra.isEmpty }) else {
                return .failure(FormatError("not_expressible", "images, tools, tool turns and message keys beyond role and content are not exported to ShareGPT rows"))
            }
            var prompt = p.prompt
            var o: [(String, JSONValue)] = []
            var system: String? = nil
            if prompt.first?.role == .system { system = prompt.removeFirst().text }
            guard !prompt.contains(where: { $0.role == .system }) else {
                return .failure(FormatError("not_expressible", "a system turn after the first message has no place in ShareGPT data"))
            }
            o.append(("conversations", .array(prompt.map(shareGPT))))
            o.append(("chosen", shareGPT(p.chosen[0])))
            o.append(("rejected", shareGPT(p.rejected[0])))
            if let system { o.append(("system", .string(system))) }
            return .success([.object(o)])
        case .axolotl:
            guard p.chosen.count == 1, p.rejected.count == 1 else {
                return .failure(FormatError("multi_turn_response", "axolotl's chat_template DPO rows take one message per side"))
            }
            guard p.images == nil, p.tools == nil else {
                return .failure(FormatError("not_expressible", "axolotl's chat_template DPO rows have no images or tools column"))
            }
            return .success([.object([("messages", messages(p.prompt)), ("chosen", message(p.chosen[0])), ("rejected", message(p.rejected[0]))])])
        case .kto:
            guard unpair == .chosenDesirable else { return .failure(FormatError("no_rule", "KTO export needs --unpair chosen-desirable")) }
            func row(_ completion: [Message], _ label: Bool) -> JSONValue {
                var o: [(String, JSONValue)] = [("prompt", messages(p.prompt)), ("completion", messages(completion)), ("label", .bool(label))]
                if let t = p.tools { o.append(("tools", t)) }
                if let i = p.images { o.append(("images", i)) }
                return .object(o)
            }
            return .success([row(p.chosen, true), row(p.rejected, false)])
        }
    }

    /// A message in TRL/OpenAI form: role, content (its parts when it has them), its other keys.
    static func message(_ m: Message) -> JSONValue {
        var o: [(String, JSONValue)] = [("role", .string(String(describing: m.role.name))), ("content", m.parts ?? .string(m.text))]
        o += m.extra
        return .object(o)
    }

    /// A message in ShareGPT form as LLaMA-Factory reads it (only plain text messages get here:
    /// pairs with tool turns or tool calls are not exported to ShareGPT rows).
    static func shareGPT(_ m: Message) -> JSONValue {
        let from: String
        switch m.role { case .user: from = "human"; case .assistant: from = "gpt"; case .tool: from = "observation"; case .system: from = "system" }
        return .object([("from", .string(from)), ("value", .string(m.text))])
    }

    /// LLaMA-Factory's dataset_info.json entry for an exported file. A column is declared only when
    /// every row has it: LLaMA-Factory looks a declared column up in each row (`KeyError` otherwise).
    public static func llamaFactoryInfo(name: String, fileName: String, tools: Bool, system: Bool) -> JSONValue {
        var columns: [(String, JSONValue)] = [("messages", .string("conversations")), ("chosen", .string("chosen")),
                                              ("rejected", .string("rejected"))]
        if system { columns.append(("system", .string("system"))) }
        if tools { columns.append(("tools", .string("tools"))) }
        return .object([(name, .object([("file_name", .string(fileName)), ("formatting", .string("sharegpt")), ("ranking", .bool(true)),
                                        ("columns", .object(columns))]))])
    }

    /// The registry with `entry` (one name) merged in: every other entry kept in its order, an entry
    /// of the same name replaced in place (`replaced` true), a new one appended. An existing registry
    /// that is not a JSON object is refused: it is the user's list of every dataset.
    public static func mergeLlamaFactoryRegistry(existing: [UInt8]?, path: String, entry: JSONValue) throws -> (registry: JSONValue, replaced: Bool) {
        guard case .object(let new) = entry, let (name, value) = new.first else { return (entry, false) }
        guard let existing, !existing.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) else { return (entry, false) }
        guard let parsed = try? JSONValue.parse(bytes: existing), case .object(var members) = parsed else {
            throw OutputError("\(path) exists and is not a JSON object (LLaMA-Factory's dataset registry); refusing to replace it: fix or move it", usage: true)
        }
        if let k = members.firstIndex(where: { $0.0 == name }) {
            members[k].1 = value
            return (.object(members), true)
        }
        members.append((name, value))
        return (.object(members), false)
    }

    /// The axolotl config lines for an exported file.
    public static func axolotlSnippet(path: String) -> String {
        """
        rl: dpo
        datasets:
          - path: \(path)
            ds_type: json
            split: train
            type: chat_template.default
            field_messages: messages
            field_chosen: chosen
            field_rejected: rejected
            message_property_mappings:
              role: role
              content: content
        """
    }
}

extension Exporter {
    /// Exports the pairs of `inputs` (normalized pair files) to `write`, one JSON row per line, in
    /// input order. Pairs the target cannot express are removed by reason; malformed lines are
    /// rejected. Returns the tally per input.
    public static func run(inputs: [InputFile], target: ExportTarget, unpair: UnpairRule?,
                           write: ([UInt8], _ pairLine: UnsafeRawBufferPointer) throws -> Void,
                           reject: (RecordFailure) throws -> Void) throws -> [InputReport] {
        var reports = inputs.map { InputReport(path: $0.path) }
        var scanner = JSONScanner()
        let reading = InputBatches(inputs)
        try reading.forEach({ k, batch in
            for f in batch.failures {
                reports[k].tally.read += 1; reports[k].tally.rejected[f.reason, default: 0] += 1
                try reject(f.at(inputs[k].display))
            }
            for i in 0..<batch.count {
                reports[k].tally.read += 1
                try batch.withRecord(i) { raw in
                    let pair: Pair
                    do {
                        let doc = try scanner.parseRecord(raw, streamOffset: batch.offsets[i])
                        pair = try Pair.parse(doc.root)
                        if let (reason, message) = pair.validate() { throw FormatError(reason, message) }
                    } catch let e as FormatError {
                        reports[k].tally.rejected[e.reason, default: 0] += 1
                        try reject(RecordFailure(file: inputs[k].display, line: batch.lines[i], offset: batch.offsets[i], reason: e.reason, message: e.message, raw: Array(raw)))
                        return
                    }
                    switch rows(pair, target, unpair: unpair) {
                    case .failure(let e):
                        reports[k].tally.removed[e.reason, default: 0] += 1
                    case .success(let rs):
                        var b = ByteBuffer()
                        for r in rs { b.appendJSONValue(r); b.append(0x0A) }
                        try write(b.bytes, raw)
                        reports[k].tally.written += 1
                        reports[k].tally.pairs += rs.count
                    }
                }
            }
        }, finished: { k, info in
            reports[k].format = "pairs"; reports[k].compression = info.compression; reports[k].layout = info.layout; reports[k].bytes = info.bytes
        })
        return reports
    }
}
