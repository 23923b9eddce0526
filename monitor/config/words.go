package config

// PasswordWords says in a few words where an account's password comes
// from, as `smtpwatch accounts` and the dashboard list it: "OS keyring",
// "password_command", "$VAR", an OAuth2 sign-in or token helper, "none".
func (a Account) PasswordWords() string {
	switch a.Credential.Source {
	case CredentialKeyring:
		return "OS keyring"
	case CredentialCommand:
		return "password_command"
	case CredentialEnv:
		return "$" + a.Credential.Env
	case CredentialOAuth:
		return "OAuth2 sign-in (smtpwatch login " + a.Name + ")"
	case CredentialTokenCommand:
		return "OAuth2 token from oauth_token_command"
	}
	return "none"
}
