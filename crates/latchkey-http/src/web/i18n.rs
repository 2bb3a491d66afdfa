//! Page text in the visitor's language: English (the source) and French. The language comes
//! from `ui_locales` on `/authorize` (remembered in the `lk_lang` cookie), else the browser's
//! Accept-Language. Pages are written in English; `translate_html` replaces each text node that
//! is exactly one of the known phrases, so markup and attributes are never touched.

use axum::http::{HeaderMap, header};
use latchkey_core::mail::escape_html as e;

pub(crate) const LANG_COOKIE: &str = "lk_lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Fr,
}

impl Lang {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Fr => "fr",
        }
    }

    /// The first supported language of a list (`ui_locales` "fr-CA en", or Accept-Language
    /// "fr-FR,fr;q=0.9,en;q=0.8"); entries with `q=0` are skipped.
    pub(crate) fn from_list(list: &str) -> Option<Self> {
        list.split([',', ' '])
            .filter(|item| !item.trim().is_empty())
            .filter(|item| !item.split(';').skip(1).any(|p| p.trim() == "q=0"))
            .find_map(|item| {
                let tag = item
                    .split(';')
                    .next()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                match tag.split(['-', '_']).next() {
                    Some("fr") => Some(Self::Fr),
                    Some("en") => Some(Self::En),
                    _ => None,
                }
            })
    }

    /// The language for a request: the remembered choice, else Accept-Language, else English.
    pub(crate) fn detect(headers: &HeaderMap) -> Self {
        if let Some(l) =
            super::csrf::read_cookie(headers, LANG_COOKIE).and_then(|c| Self::from_list(&c))
        {
            return l;
        }
        headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::from_list)
            .unwrap_or(Self::En)
    }

    /// One phrase (a page title, a message): the translation, or the English text.
    pub(crate) fn tr(self, en: &str) -> String {
        match self {
            Self::En => en.to_owned(),
            Self::Fr => french(en).unwrap_or_else(|| en.to_owned()),
        }
    }
}

/// Translates every text node of `html` that is a known phrase (ignoring surrounding space).
pub(crate) fn translate_html(lang: Lang, html: &str) -> String {
    if lang == Lang::En {
        return html.to_owned();
    }
    let mut out = String::with_capacity(html.len() + html.len() / 4);
    let mut rest = html;
    while !rest.is_empty() {
        let (text, tail) = match rest.find('<') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let trimmed = text.trim();
        let unescaped = latchkey_core::mail::unescape_html(trimmed);
        match (!trimmed.is_empty()).then(|| french(&unescaped)).flatten() {
            Some(fr) => {
                let start = text.len() - text.trim_start().len();
                let end = text.trim_end().len();
                out.push_str(&text[..start]);
                out.push_str(&e(&fr));
                out.push_str(&text[end..]);
            }
            None => out.push_str(text),
        }
        match tail.find('>') {
            Some(j) => {
                out.push_str(&tail[..=j]);
                rest = &tail[j + 1..];
            }
            None => {
                out.push_str(tail);
                rest = "";
            }
        }
    }
    out
}

/// The French text of an English phrase. Rule texts with numbers are matched by pattern.
fn french(en: &str) -> Option<String> {
    if let Some(n) = en
        .strip_prefix("At least ")
        .and_then(|r| r.strip_suffix(" characters in length"))
    {
        return Some(format!("Au moins {n} caractères"));
    }
    if let Some((a, b)) = en
        .strip_prefix("Contain at least ")
        .and_then(|r| r.strip_suffix(" types of characters:"))
        .and_then(|r| r.split_once(" of the following "))
    {
        return Some(format!(
            "Au moins {a} des {b} types de caractères suivants :"
        ));
    }
    if let Some(n) = en
        .strip_prefix("No more than ")
        .and_then(|r| r.split_once(" identical characters in a row"))
        .map(|(n, _)| n)
    {
        return Some(format!("Pas plus de {n} caractères identiques à la suite"));
    }
    if let Some(n) = en
        .strip_prefix("Hard to guess: strength ")
        .and_then(|r| r.strip_suffix(" out of 4 or more"))
    {
        return Some(format!(
            "Difficile à deviner : robustesse d'au moins {n} sur 4"
        ));
    }
    let fr = match en {
        // Layout and common
        "Continue" => "Continuer",
        "Email address" => "Adresse e-mail",
        "Password" => "Mot de passe",
        "Code" => "Code",
        "Something went wrong on our side. Please try again in a moment." => {
            "Une erreur s'est produite de notre côté. Réessayez dans un instant."
        }
        "Please try again" => "Veuillez réessayer",
        "This form expired or was opened in another browser. Go back and try again." => {
            "Ce formulaire a expiré ou a été ouvert dans un autre navigateur. Revenez en arrière et réessayez."
        }
        "This form expired or was opened in another browser. Open the link from your email again." => {
            "Ce formulaire a expiré ou a été ouvert dans un autre navigateur. Ouvrez à nouveau le lien reçu par e-mail."
        }
        "This page expired" => "Cette page a expiré",
        "This login page expired. Go back to the application and try again." => {
            "Cette page de connexion a expiré. Revenez à l'application et réessayez."
        }
        // The strength estimate's advice (zxcvbn's warnings and suggestions)
        "Straight rows of keys are easy to guess." => {
            "Les rangées de touches du clavier sont faciles à deviner."
        }
        "Short keyboard patterns are easy to guess." => {
            "Les motifs courts du clavier sont faciles à deviner."
        }
        "Repeats like \"aaa\" are easy to guess." => {
            "Les répétitions comme « aaa » sont faciles à deviner."
        }
        "Repeats like \"abcabcabc\" are only slightly harder to guess than \"abc\"." => {
            "Les répétitions comme « abcabcabc » ne sont guère plus difficiles à deviner que « abc »."
        }
        "This is a top-10 common password." => "C'est l'un des 10 mots de passe les plus courants.",
        "This is a top-100 common password." => {
            "C'est l'un des 100 mots de passe les plus courants."
        }
        "This is a very common password." => "C'est un mot de passe très courant.",
        "This is similar to a commonly used password." => {
            "Il ressemble à un mot de passe très utilisé."
        }
        "Sequences like abc or 6543 are easy to guess." => {
            "Les suites comme abc ou 6543 sont faciles à deviner."
        }
        "Recent years are easy to guess." => "Les années récentes sont faciles à deviner.",
        "A word by itself is easy to guess." => "Un mot seul est facile à deviner.",
        "Dates are often easy to guess." => "Les dates sont souvent faciles à deviner.",
        "Names and surnames by themselves are easy to guess." => {
            "Les prénoms et les noms seuls sont faciles à deviner."
        }
        "Common names and surnames are easy to guess." => {
            "Les prénoms et noms courants sont faciles à deviner."
        }
        "Use a few words, avoid common phrases." => {
            "Utilisez quelques mots, évitez les expressions courantes."
        }
        "No need for symbols, digits, or uppercase letters." => {
            "Les symboles, chiffres et majuscules ne sont pas nécessaires."
        }
        "Add another word or two. Uncommon words are better." => {
            "Ajoutez un ou deux mots. Les mots peu courants sont préférables."
        }
        "Capitalization doesn't help very much." => "Les majuscules n'aident pas beaucoup.",
        "All-uppercase is almost as easy to guess as all-lowercase." => {
            "Tout en majuscules est presque aussi facile à deviner que tout en minuscules."
        }
        "Reversed words aren't much harder to guess." => {
            "Les mots à l'envers ne sont guère plus difficiles à deviner."
        }
        "Predictable substitutions like '@' instead of 'a' don't help very much." => {
            "Les substitutions prévisibles comme « @ » au lieu de « a » n'aident pas beaucoup."
        }
        "Use a longer keyboard pattern with more turns." => {
            "Utilisez un motif de clavier plus long avec plus de changements de direction."
        }
        "Avoid repeated words and characters." => "Évitez les mots et caractères répétés.",
        "Avoid sequences." => "Évitez les suites.",
        "Avoid recent years." => "Évitez les années récentes.",
        "Avoid years that are associated with you." => "Évitez les années qui vous sont associées.",
        "Avoid dates and years that are associated with you." => {
            "Évitez les dates et années qui vous sont associées."
        }
        // Login and sign-up
        "Log in" => "Connexion",
        "to continue to" => "pour continuer vers",
        "Forgot password?" => "Mot de passe oublié ?",
        "Sign up" => "Créer un compte",
        "Already have an account?" => "Vous avez déjà un compte ?",
        "Wrong email or password." => "Adresse e-mail ou mot de passe incorrect.",
        "Enter your email address and password." => {
            "Saisissez votre adresse e-mail et votre mot de passe."
        }
        "Enter a valid email address." => "Saisissez une adresse e-mail valide.",
        "Choose a password." => "Choisissez un mot de passe.",
        "Invalid sign up" => "Inscription impossible",
        "Your account has been blocked after multiple consecutive login attempts. We've sent you an email with instructions on how to unblock it." => {
            "Votre compte a été bloqué après plusieurs tentatives de connexion échouées. Nous vous avons envoyé un e-mail expliquant comment le débloquer."
        }
        "Your account is blocked. Contact the application's support." => {
            "Votre compte est bloqué. Contactez l'assistance de l'application."
        }
        "Something is wrong with this link" => "Ce lien comporte une erreur",
        "Go back to the application and try again." => "Revenez à l'application et réessayez.",
        "Signing you in…" => "Connexion en cours…",
        "Signing you in" => "Connexion en cours",
        "Continue to the application" => "Continuer vers l'application",
        "Logged out" => "Déconnecté",
        "You are logged out" => "Vous êtes déconnecté",
        "You can close this window." => "Vous pouvez fermer cette fenêtre.",
        // MFA
        "Verify it's you" => "Confirmez votre identité",
        "Enter the 6-digit code from your authenticator app, or a recovery code." => {
            "Saisissez le code à 6 chiffres de votre application d'authentification, ou un code de récupération."
        }
        "Enter the 6-digit code from your authenticator app, or a recovery code, to continue" => {
            "Saisissez le code à 6 chiffres de votre application d'authentification, ou un code de récupération, pour continuer"
        }
        "Authentication code" => "Code d'authentification",
        "Secure your account" => "Sécurisez votre compte",
        "Scan this code with an authenticator app (Google Authenticator, 1Password, Authy…), then enter the 6-digit code it shows." => {
            "Scannez ce code avec une application d'authentification (Google Authenticator, 1Password, Authy…), puis saisissez le code à 6 chiffres qu'elle affiche."
        }
        "Can't scan it? Enter this key instead:" => {
            "Impossible de scanner ? Saisissez plutôt cette clé :"
        }
        "Save your recovery code" => "Conservez votre code de récupération",
        "If you lose your phone, this code lets you sign in once. It is shown only now." => {
            "Si vous perdez votre téléphone, ce code vous permet de vous connecter une fois. Il n'est affiché que maintenant."
        }
        "I saved it, continue" => "Je l'ai conservé, continuer",
        "Unblock your account" => "Débloquer votre compte",
        "Sign-in to your account was blocked after too many failed attempts." => {
            "La connexion à votre compte a été bloquée après trop de tentatives échouées."
        }
        "Account" => "Compte",
        "Attempts from" => "Tentatives depuis",
        "If those attempts were yours, unblock it and sign in again." => {
            "Si ces tentatives venaient de vous, débloquez votre compte et reconnectez-vous."
        }
        "Unblock my account" => "Débloquer mon compte",
        "The block was already lifted, or the link expired. If you still cannot sign in, reset your password: that lifts any block." => {
            "Le blocage a déjà été levé, ou le lien a expiré. Si vous ne pouvez toujours pas vous connecter, réinitialisez votre mot de passe : cela lève tout blocage."
        }
        "Your account is unblocked" => "Votre compte est débloqué",
        "Email verified" => "Adresse e-mail vérifiée",
        "Your email was verified. You can continue using the application." => {
            "Votre adresse e-mail a été vérifiée. Vous pouvez continuer à utiliser l'application."
        }
        "This link was already used" => "Ce lien a déjà été utilisé",
        "This URL can be used only once." => "Cette adresse ne peut être utilisée qu'une fois.",
        "If your address is verified, you can simply sign in. Otherwise, ask the application for a new verification email." => {
            "Si votre adresse est vérifiée, connectez-vous simplement. Sinon, demandez à l'application un nouvel e-mail de vérification."
        }
        "Verification links work for a limited time." => {
            "Les liens de vérification ne fonctionnent que pendant un temps limité."
        }
        "Ask the application for a new verification email." => {
            "Demandez à l'application un nouvel e-mail de vérification."
        }
        "This link is not valid" => "Ce lien n'est pas valide",
        "The link is incomplete, or it no longer matches your account." => {
            "Le lien est incomplet, ou il ne correspond plus à votre compte."
        }
        "You can sign in again. Go back to the application and log in." => {
            "Vous pouvez à nouveau vous connecter. Revenez à l'application et connectez-vous."
        }
        "Were those attempts not yours?" => "Ces tentatives ne venaient pas de vous ?",
        "Someone may be guessing your password. Choose a new one: enter your email address and we will send you a link." => {
            "Quelqu'un essaie peut-être de deviner votre mot de passe. Choisissez-en un nouveau : saisissez votre adresse e-mail et nous vous enverrons un lien."
        }
        "Save your new recovery code" => "Conservez votre nouveau code de récupération",
        "You used your recovery code, so it no longer works. This new one lets you sign in once if you lose your phone. It is shown only now." => {
            "Vous avez utilisé votre code de récupération : il ne fonctionne plus. Ce nouveau code vous permet de vous connecter une fois si vous perdez votre téléphone. Il n'est affiché que maintenant."
        }
        "That code is not valid. Enter the current code from your authenticator app." => {
            "Ce code n'est pas valide. Saisissez le code actuel de votre application d'authentification."
        }
        "Too many attempts. Wait a minute and try again." => {
            "Trop de tentatives. Attendez une minute et réessayez."
        }
        "Verify with your authenticator app first." => {
            "Confirmez d'abord votre identité avec votre application d'authentification."
        }
        // Reset
        "Change your password" => "Changez votre mot de passe",
        "Choose a new password" => "Choisissez un nouveau mot de passe",
        "Choose a new password for" => "Choisissez un nouveau mot de passe pour",
        "Choose a new password." => "Choisissez un nouveau mot de passe.",
        "Enter the 6-digit code from your authenticator app, or a recovery code, to continue." => {
            "Saisissez le code à 6 chiffres de votre application d'authentification, ou un code de récupération, pour continuer."
        }
        "You asked to change the password" => "Vous avez demandé à changer le mot de passe",
        "You asked to change the password for" => "Vous avez demandé à changer le mot de passe de",
        ". Confirm to make the new password active." => {
            ". Confirmez pour activer le nouveau mot de passe."
        }
        "New password" => "Nouveau mot de passe",
        "Confirm new password" => "Confirmez le nouveau mot de passe",
        "Your password must meet these rules:" => "Votre mot de passe doit respecter ces règles :",
        "Reset password" => "Réinitialiser le mot de passe",
        "Met:" => "Respectée :",
        "Not met:" => "Non respectée :",
        "lower case letters (a-z)" => "lettres minuscules (a-z)",
        "upper case letters (A-Z)" => "lettres majuscules (A-Z)",
        "numbers (i.e. 0-9)" => "chiffres (0-9)",
        "special characters (e.g. !@#$%^&*)" => "caractères spéciaux (par ex. !@#$%^&*)",
        "Should contain:" => "Doit contenir :",
        "Password is too weak" => "Le mot de passe est trop faible",
        "Password is too common" => "Le mot de passe est trop courant",
        "Password contains user information" => {
            "Le mot de passe contient des informations personnelles"
        }
        "Password has previously been used" => "Ce mot de passe a déjà été utilisé",
        "Enter a new password." => "Saisissez un nouveau mot de passe.",
        "The passwords do not match." => "Les mots de passe ne correspondent pas.",
        "Confirm your new password" => "Confirmez votre nouveau mot de passe",
        "Confirm password change" => "Confirmer le changement de mot de passe",
        "Password changed" => "Mot de passe modifié",
        "Your password was changed, and every session was signed out." => {
            "Votre mot de passe a été modifié et toutes les sessions ont été fermées."
        }
        "You can close this window and sign in with your new password." => {
            "Vous pouvez fermer cette fenêtre et vous connecter avec votre nouveau mot de passe."
        }
        "Back to the application" => "Retour à l'application",
        "This link has expired" => "Ce lien a expiré",
        "This link can no longer be used" => "Ce lien n'est plus utilisable",
        "Links to reset a password work for a limited time." => {
            "Les liens de réinitialisation ne sont valables qu'un temps limité."
        }
        "It was already used, or a newer link was sent since." => {
            "Il a déjà été utilisé, ou un lien plus récent a été envoyé depuis."
        }
        "Enter your email address and we will send you a new link." => {
            "Saisissez votre adresse e-mail et nous vous enverrons un nouveau lien."
        }
        "Send me a new link" => "Envoyez-moi un nouveau lien",
        "Send me a reset link" => "Envoyez-moi un lien de réinitialisation",
        "Reset your password" => "Réinitialisez votre mot de passe",
        "Enter your email address and we will send you a link to choose a new password." => {
            "Saisissez votre adresse e-mail et nous vous enverrons un lien pour choisir un nouveau mot de passe."
        }
        "Enter your email address and we will send you a link." => {
            "Saisissez votre adresse e-mail et nous vous enverrons un lien."
        }
        "Check your email" => "Consultez vos e-mails",
        "We've just sent you an email to reset your password." => {
            "Nous venons de vous envoyer un e-mail pour réinitialiser votre mot de passe."
        }
        "The mail can take a minute to arrive. Check your spam folder too." => {
            "L'e-mail peut mettre une minute à arriver. Vérifiez aussi vos courriers indésirables."
        }
        "Too many requests. Please wait a minute and try again." => {
            "Trop de demandes. Attendez une minute et réessayez."
        }
        "This link was already used or is no longer valid." => {
            "Ce lien a déjà été utilisé ou n'est plus valide."
        }
        _ => return None,
    };
    Some(fr.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_picked_from_lists_and_text_nodes_translated() {
        assert_eq!(Lang::from_list("fr-CA en"), Some(Lang::Fr));
        assert_eq!(Lang::from_list("de-DE,fr;q=0.8,en;q=0.5"), Some(Lang::Fr));
        assert_eq!(Lang::from_list("fr;q=0, en"), Some(Lang::En));
        assert_eq!(Lang::from_list("de"), None);
        let html = r#"<h1>Log in</h1><p class="lead">to continue to <strong>Log in</strong></p><label for="p">Password</label><li>At least 8 characters in length</li><div>We&#39;ve just sent you an email to reset your password.</div>"#;
        assert_eq!(
            translate_html(Lang::Fr, html),
            r#"<h1>Connexion</h1><p class="lead">pour continuer vers <strong>Connexion</strong></p><label for="p">Mot de passe</label><li>Au moins 8 caractères</li><div>Nous venons de vous envoyer un e-mail pour réinitialiser votre mot de passe.</div>"#
        );
        assert_eq!(translate_html(Lang::En, html), html);
    }

    /// The strength estimate's advice is shown on the hosted pages: every warning and
    /// suggestion it gives for typical weak passwords has its French text.
    #[test]
    fn the_strength_estimates_advice_is_translated() {
        use latchkey_core::domain::ConnectionOptions;
        use latchkey_core::password::{PasswordPolicy, PersonalInfo};
        #[allow(clippy::unwrap_used)]
        let options = ConnectionOptions::from_json(serde_json::json!({
            "password_strength_estimate": {"enable": true, "min_score": 4}
        }))
        .unwrap();
        let policy = PasswordPolicy::from_options(&options);
        let info = PersonalInfo {
            values: vec!["mortimer".into()],
        };
        let weak = [
            "qwertyuiop",
            "zxcvbn",
            "aaaaaaaa",
            "abcabcabc",
            "password",
            "123456",
            "Password1",
            "p@ssw0rd",
            "abcdefg",
            "2019",
            "sunshine",
            "11/11/1999",
            "mortimer",
            "john",
            "smith",
            "drowssap",
            "PASSWORD",
            "qazwsx",
            "1qaz2wsx3edc",
        ];
        let mut seen = 0;
        for password in weak {
            let verdict = policy.evaluate(password, &info);
            assert!(verdict.is_err(), "{password} passed min_score 4");
            let Err(v) = verdict else { continue };
            for advice in v.rules.iter().flat_map(|r| r.items.iter().flatten()) {
                if latchkey_core::password::ADVICE_CODES.contains(&advice.code) {
                    seen += 1;
                    assert!(french(&advice.message).is_some(), "{}", advice.message);
                }
            }
        }
        assert!(seen > 10, "{seen}");
        assert!(french("Hard to guess: strength 3 out of 4 or more").is_some());
    }
}
