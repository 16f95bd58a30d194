// The `code_version` stamped into every checkpoint this build writes (DESIGN §3.3), so a file says
// which build made it. Raise it with releases.

public enum CodeVersion {
    public static let current = "swift-rlhf 0.1.0"
}
