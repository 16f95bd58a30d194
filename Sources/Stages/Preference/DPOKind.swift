// The `dpo` stage kind: its declaration and its settings section (`dpo: {...}`).

extension StageKind {
    public static let dpo = StageKind("dpo")
}

extension DPOStage {
    static let declaration = StageKindDeclaration(
        .dpo, summary: "direct preference optimisation against the frozen starting policy, no reward model",
        settings: DPOSettings.self,
        sources: [SourceUse(.policy, required: true, "the policy's start, also the frozen reference")],
        data: [DataUse(.train, required: true, "preference rows", PreferenceRecord.self),
               DataUse(.eval, required: false, "held-out rows of the same kind", PreferenceRecord.self)],
        build: { try DPOStage(spec: $0, context: $1) })
}

/// DPO (Rafailov et al.; IPO; hinge; cDPO label smoothing).
public struct DPOSettings: SettingsSection {
    public enum Loss: String, Codable, CaseIterable, Sendable { case sigmoid, ipo, hinge }
    public var loss: Loss = .sigmoid
    public var beta: Double = 0.1
    public var labelSmoothing: Double = 0

    public init() {}

    public static let keys: [Setting<DPOSettings>] = [
        .choice("loss", \.loss, "`sigmoid` (DPO), `ipo` or `hinge`"),
        .value("beta", \.beta, .above(0), "β, the strength of the implicit KL constraint"),
        .value("label_smoothing", \.labelSmoothing, .from(0, below: 0.5), "cDPO: the probability that a preference label is flipped"),
    ]
}
