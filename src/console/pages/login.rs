//! Sign-in and sign-out. The sign-in form carries its own CSRF token (the same value as its
//! `fg_login` cookie); wrong passwords lengthen the back-off of the account and of the address.

use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::{self, HeaderMap};
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, html};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::console::AppState;
use crate::console::accounts::{SignIn, sign_in_through};
use crate::console::guard::{ClientAddress, LOGIN_COOKIE, Problem, cookie, language, set_cookie};
use crate::console::i18n::{code, tr, trf};
use crate::console::layout::{head, language_switch};
use crate::console::sessions::{COOKIE, MAX_LIFETIME_SECONDS, random_token};
use crate::language::Language;

pub async fn form(headers: HeaderMap) -> Response {
    let token = cookie(&headers, LOGIN_COOKIE).map_or_else(random_token, str::to_owned);
    let page = login_page(language(&headers), &token, None);
    ([(header::SET_COOKIE, set_cookie(LOGIN_COOKIE, &token, None))], page).into_response()
}

fn login_page(lang: Language, token: &str, error: Option<String>) -> Markup {
    html! {
        (DOCTYPE)
        html lang=(code(lang)) {
            (head(tr(lang, "Sign in")))
            body {
                main id="main" {
                    h1 { (tr(lang, "facegate console: sign in")) }
                    p { (language_switch(lang, "/login")) }
                    @if let Some(error) = error { p.error role="alert" { (error) } }
                    form.stack method="post" action="/login" {
                        input type="hidden" name="csrf" value=(token);
                        label for="name" { (tr(lang, "Account")) }
                        input id="name" name="name" autocomplete="username" required;
                        label for="password" { (tr(lang, "Password")) }
                        input id="password" name="password" type="password" autocomplete="current-password" required;
                        button type="submit" { (tr(lang, "Sign in")) }
                    }
                    p.muted { (tr(lang, "The console's certificate is made by the site controller itself: check that the fingerprint your browser shows is the one `facegate console serve` printed before you trust it.")) }
                }
            }
        }
    }
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
}

pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Form(form): Form<Credentials>,
) -> Result<Response, Problem> {
    let lang = language(&headers);
    let token = cookie(&headers, LOGIN_COOKIE).unwrap_or_default().to_owned();
    let now = state.now();
    let checking = state.clone();
    let outcome = tokio::task::spawn_blocking(move || {
        let password = Zeroizing::new(form.password);
        sign_in_through(|| checking.accounts(), &form.name, &password, &address, now)
    })
    .await
    .map_err(|e| Problem::Internal(e.to_string()))??;
    let refuse = |status, text| (status, login_page(lang, &token, Some(text))).into_response();
    Ok(match outcome {
        SignIn::Ok(account) => {
            let session = state.accounts().start_session(&account, now)?;
            let cookies = AppendHeaders([
                (header::SET_COOKIE, set_cookie(COOKIE, &session, Some(MAX_LIFETIME_SECONDS))),
                (header::SET_COOKIE, set_cookie(LOGIN_COOKIE, "", Some(0))),
            ]);
            (cookies, Redirect::to("/")).into_response()
        }
        SignIn::Refused => {
            refuse(StatusCode::UNAUTHORIZED, tr(lang, "Wrong account name or password.").into())
        }
        SignIn::Wait(seconds) => {
            let text = trf(lang, "Too many wrong passwords: try again in {} seconds.", &[&seconds]);
            let mut response = refuse(StatusCode::TOO_MANY_REQUESTS, text);
            response.headers_mut().insert(header::RETRY_AFTER, seconds.into());
            response
        }
    })
}

pub async fn sign_out(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Problem> {
    if let Some(token) = cookie(&headers, COOKIE) {
        state.accounts().end_session(token)?;
    }
    Ok(([(header::SET_COOKIE, set_cookie(COOKIE, "", Some(0)))], Redirect::to("/login"))
        .into_response())
}
