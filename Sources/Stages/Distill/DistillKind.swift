// The `distill` stage kind: its declaration and its settings section (`distill: {...}`).

extension StageKind {
    public static let distill = StageKind("distill")
}

extension DistillStage {
    static let declaration = StageKindDeclaration(
        .distill, summary: "knowledge distillation: the student learns the teacher's next-token distributions",
        settings: DistillSettings.self,
        sources: [SourceUse(.teacher, required: true, "the teacher; may differ in shape, not in vocabulary", sameShape: false),
                  SourceUse(.initial, required: false, "the student's starting weights (fresh when absent)")],
        data: [DataUse(.train, required: true, "SFT rows", SFTRecord.self),
               DataUse(.eval, required: false, "held-out rows of the same kind", SFTRecord.self)],
        stageKeys: ["model"],
        build: { try DistillStage(spec: $0, context: $1) })
}

/// Knowledge distillation (Hinton et al.), mixed with the plain SFT loss.
public struct DistillSettings: SettingsSection {
    public enum Loss: String, Codable, CaseIterable, Sendable { case forwardKL = "forward_kl", reverseKL = "reverse_kl" }
    public var loss: Loss = .forwardKL
    public var temperature: Double = 2.0
    public var alpha: Double = 0.5

    public init() {}

    public static let keys: [Setting<DistillSettings>] = [
        .choice("loss", \.loss, "`forward_kl` Σ P_t log(P_t/P_s) or `reverse_kl`"),
        .value("temperature", \.temperature, .above(0), "τ: both distributions are softened by it; the KL term is scaled by τ²"),
        .value("alpha", \.alpha, .within(0, 1), "weight of the KL term; 1 − alpha weighs the plain SFT loss"),
    ]
}
