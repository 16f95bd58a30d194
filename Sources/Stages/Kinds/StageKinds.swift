// The registry of stage kinds. A new kind is one folder (its stage, settings and declaration) plus one
// line here; nothing else in the package names it.

public enum StageKinds {
    /// Every stage kind, in the order the docs list them.
    public static let all: [StageKindDeclaration] = [
        SFTStage.declaration,
        RewardStage.declaration,
        PPOStage.declaration,
        DPOStage.declaration,
        DistillStage.declaration,
        GRPO.declaration,
        RLOO.declaration,
    ]

    public static func declaration(of kind: StageKind) -> StageKindDeclaration? {
        all.first { $0.kind == kind }
    }

    /// The kinds' names, as a manifest's `kind` accepts them.
    public static var names: [String] { all.map(\.kind.rawValue) }

    /// The kinds with a settings section, by section name.
    static var sections: [(name: String, type: any SettingsSection.Type)] {
        all.compactMap { declaration in declaration.settings.map { (declaration.kind.rawValue, $0) } }
    }
}
