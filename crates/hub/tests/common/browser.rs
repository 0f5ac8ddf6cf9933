//! A small browser for tests through the real server: it keeps cookies by hand (reqwest's
//! cookie store would not send `Secure` cookies over http://127.0.0.1), sends the headers a
//! browser sends on a same-origin form post (`Origin`, `Sec-Fetch-Site`), and never follows
//! redirects, so that every answer can be looked at. With the users the UI tests sign in as.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};

use hub::ui::auth::{Role, accounts};
use reqwest::{Method, StatusCode, header};
use store::Store;

use super::TestApp;

pub const ADMIN: &str = "camille";
pub const ADMIN_PASSWORD: &str = "violet-harbour-lantern-42";
pub const AGENT: &str = "joao";
pub const AGENT_PASSWORD: &str = "quiet-marble-orchard-17";

pub struct Browser {
    pub base: String,
    pub http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
    /// Every `Set-Cookie` of the last answer, as sent.
    pub last_set_cookies: Vec<String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub retry_after: Option<String>,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `_csrf` field, or of the page's csrf-token meta tag.
    pub fn csrf(&self) -> String {
        let after = |marker: &str| {
            self.body
                .split_once(marker)
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(value, _)| value.to_owned())
        };
        after(r#"name="_csrf" value=""#)
            .or_else(|| after(r#"<meta name="csrf-token" content=""#))
            .filter(|t| !t.is_empty())
            .expect("the page holds an anti-forgery token")
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Self::from(app, IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// A browser connecting from another loopback address (127.0.0.0/8 all reach the server).
    pub fn from(app: &TestApp, address: IpAddr) -> Self {
        Self {
            base: app.base.clone(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .local_address(address)
                .build()
                .expect("client"),
            cookies: BTreeMap::new(),
            last_set_cookies: Vec::new(),
        }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub async fn send(&mut self, request: reqwest::RequestBuilder) -> Page {
        let request = if self.cookies.is_empty() {
            request
        } else {
            request.header(header::COOKIE, self.cookie_header())
        };
        let response = request.send().await.expect("request");
        self.last_set_cookies = response
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        for set in &self.last_set_cookies {
            let pair = set.split(';').next().unwrap_or_default();
            if let Some((name, value)) = pair.split_once('=') {
                if value.is_empty() || set.contains("Max-Age=0") {
                    self.cookies.remove(name);
                } else {
                    self.cookies.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let header_text = |name: header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        Page {
            status: response.status(),
            location: header_text(header::LOCATION),
            retry_after: header_text(header::RETRY_AFTER),
            body: response.text().await.unwrap_or_default(),
        }
    }

    /// A page, as a browser navigates to it.
    pub async fn get(&mut self, path: &str) -> Page {
        let request = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8")
            .header("sec-fetch-site", "same-origin");
        self.send(request).await
    }

    /// A form posted from one of this server's pages.
    pub async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Page {
        self.post_with(path, fields, &[]).await
    }

    pub async fn post_with(
        &mut self,
        path: &str,
        fields: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Page {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(header::ORIGIN, &self.base)
            .header("sec-fetch-site", "same-origin")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(fields).expect("form"));
        // Replaces what a browser would have sent, instead of adding a second value.
        let mut map = header::HeaderMap::new();
        for (name, value) in headers {
            map.insert(
                header::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        let mut built = request.build().expect("request");
        for (name, value) in map {
            if let Some(name) = name {
                built.headers_mut().insert(name, value);
            }
        }
        request = reqwest::RequestBuilder::from_parts(self.http.clone(), built);
        self.send(request).await
    }

    pub async fn request(&mut self, method: Method, path: &str, headers: &[(&str, &str)]) -> Page {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }

    /// Opens the sign-in page and submits it.
    pub async fn login(&mut self, username: &str, password: &str) -> Page {
        let form = self.get("/login").await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        let csrf = form.csrf();
        self.post(
            "/login",
            &[
                ("_csrf", &csrf),
                ("username", username),
                ("password", password),
                ("next", ""),
            ],
        )
        .await
    }

    pub async fn signed_in(&mut self, username: &str, password: &str) {
        let page = self.login(username, password).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert_eq!(page.location.as_deref(), Some("/inbox"));
    }

    pub fn session_cookie(&self) -> Option<String> {
        self.cookies.get("__Host-guichet").cloned()
    }

    /// The anti-forgery token of the signed-in session, from one of its pages.
    pub async fn token(&mut self) -> String {
        let page = self.get("/settings/sessions").await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        page.csrf()
    }

    /// Whether the session still opens a page.
    pub async fn can_see_sessions(&mut self) -> bool {
        let page = self.get("/settings/sessions").await;
        match page.status {
            StatusCode::OK => true,
            StatusCode::SEE_OTHER => {
                let to = page.location.unwrap_or_default();
                assert!(to.starts_with("/login?next="), "{to}");
                false
            }
            other => panic!("unexpected {other}: {}", page.body),
        }
    }
}

pub async fn with_users(db: &store::testing::TestDb) -> TestApp {
    let app = TestApp::spawn(db).await;
    let now = super::NOW_MS;
    for (name, display, role, password) in [
        (ADMIN, "Camille Martin", Role::Admin, ADMIN_PASSWORD),
        (AGENT, "João Silva", Role::Agent, AGENT_PASSWORD),
    ] {
        accounts::add_user(app.store.as_ref(), name, display, role, password, now)
            .await
            .expect("add user");
    }
    app
}

pub async fn user_id(store: &dyn Store, username: &str) -> i64 {
    store
        .user_named(username)
        .await
        .expect("read")
        .expect("user")
        .id
}

/// What a state-changing route answered to the forgeries every CSRF test tries.
pub struct Forgeries {
    pub without_token: Page,
    pub forged_token: Page,
    pub foreign_origin: Page,
    pub cross_site: Page,
}

impl Browser {
    /// Posts `fields` to `path` without the token, with a forged one, and with the right one
    /// from another origin and marked cross-site; asserts each is refused with 403.
    pub async fn forge(&mut self, path: &str, fields: &[(&str, &str)], token: &str) -> Forgeries {
        let with_token: Vec<(&str, &str)> = [&[("_csrf", token)][..], fields].concat();
        let without_token = self.post(path, fields).await;
        assert_eq!(
            without_token.status,
            StatusCode::FORBIDDEN,
            "{path} without a token"
        );
        let forged: Vec<(&str, &str)> = [&[("_csrf", "forged")][..], fields].concat();
        let forged_token = self.post(path, &forged).await;
        assert_eq!(
            forged_token.status,
            StatusCode::FORBIDDEN,
            "{path} with a wrong token"
        );
        let foreign_origin = self
            .post_with(path, &with_token, &[("origin", "https://evil.example")])
            .await;
        assert_eq!(
            foreign_origin.status,
            StatusCode::FORBIDDEN,
            "{path} from another origin"
        );
        let cross_site = self
            .post_with(path, &with_token, &[("sec-fetch-site", "cross-site")])
            .await;
        assert_eq!(
            cross_site.status,
            StatusCode::FORBIDDEN,
            "{path} marked cross-site"
        );
        Forgeries {
            without_token,
            forged_token,
            foreign_origin,
            cross_site,
        }
    }
}
