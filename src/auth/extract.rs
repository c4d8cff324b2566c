//! Extractors that load, from the database on every request, who the caller is and what
//! they may reach. A workspace or firm the caller cannot reach is "not found".

use actix_session::SessionExt;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::db::models::access::{self, WorkspaceAccess};
use crate::db::models::organization::{self, OrgMembership};
use crate::db::models::places::{self, Places};
use crate::db::models::user::{self, User};
use crate::domain::two_factor::{Demand, Verdict};
use crate::domain::{OrgId, WorkspaceId};
use crate::error::AppError;
use crate::startup::AppState;

/// The signed-in user, with every place they can open (for the header's workspace
/// switcher). Signed-out requests are sent to "Log in" and back.
pub struct CurrentUser(pub User, pub Places);

/// How many workspaces the header's switcher lists; past that it links to all of them.
pub const SWITCHER_LIMIT: i64 = 50;

impl FromRequest for CurrentUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { load_user(&req, shows_a_page(&req)).await })
    }
}

/// A page is shown (GET or HEAD): its header's switcher needs the places. A form's POST
/// mostly redirects and skips those queries (a form shown again then has no switcher).
fn shows_a_page(req: &HttpRequest) -> bool {
    matches!(*req.method(), actix_web::http::Method::GET | actix_web::http::Method::HEAD)
}

async fn load_user(req: &HttpRequest, with_places: bool) -> Result<CurrentUser, AppError> {
    let (user, ()) = load_user_and(req, with_places, |_, _| Ok(Some(()))).await?;
    Ok(user)
}

/// The signed-in user (and their places), and `then` of them, read together: one trip to
/// the database and one connection for the whole of what a request needs to know of its
/// caller. `then` finding nothing (None) means the place is not theirs: not found.
async fn load_user_and<T, F>(req: &HttpRequest, with_places: bool, then: F) -> Result<(CurrentUser, T), AppError>
where
    T: Send + 'static,
    F: FnOnce(&mut crate::db::DbConnection, crate::domain::UserId) -> diesel::QueryResult<Option<T>> + Send + 'static,
{
    let state = state(req)?;
    let session = req.get_session();
    let next = req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default();
    let Some(uid) = super::session::user_id(&session) else {
        return Err(AppError::SignInRequired { next });
    };
    let found = state
        .db
        .read(move |c| {
            let Some(u) = user::find(c, uid)? else { return Ok(None) };
            let places = if with_places { places::places_of(c, uid, SWITCHER_LIMIT)? } else { Places::default() };
            Ok(Some((u, places, then(c, uid)?)))
        })
        .await?;
    match found {
        Some((u, places, Some(t))) => Ok((CurrentUser(u, places), t)),
        Some((_, _, None)) => Err(AppError::NotFound),
        None => {
            super::session::sign_out(&session);
            Err(AppError::SignInRequired { next })
        }
    }
}

/// The signed-in user, if any.
pub struct MaybeUser(pub Option<User>);

impl FromRequest for MaybeUser {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            match load_user(&req, false).await {
                Ok(CurrentUser(u, _)) => Ok(MaybeUser(Some(u))),
                Err(AppError::SignInRequired { .. }) => Ok(MaybeUser(None)),
                Err(e) => Err(e),
            }
        })
    }
}

/// A request inside a client's workspace (`/w/{ws}/…`), with the caller's access to it.
pub struct WorkspaceContext {
    pub user: User,
    pub access: WorkspaceAccess,
    pub places: Places,
}

impl FromRequest for WorkspaceContext {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ws = path_id(&req, "ws").map(WorkspaceId)?;
            let (CurrentUser(user, places), access) =
                load_user_and(&req, shows_a_page(&req), move |c, uid| access::load(c, uid, ws)).await?;
            two_factor_gate(&req, &user, &access.two_factor)?;
            Ok(WorkspaceContext { user, access, places })
        })
    }
}

/// A request inside a firm (`/orgs/{org}/…`), with the caller's team membership.
pub struct OrgContext {
    pub user: User,
    pub membership: OrgMembership,
    pub places: Places,
}

impl FromRequest for OrgContext {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let org = path_id(&req, "org").map(OrgId)?;
            let (CurrentUser(user, places), membership) =
                load_user_and(&req, shows_a_page(&req), move |c, uid| organization::membership(c, uid, org)).await?;
            two_factor_gate(&req, &user, membership.two_factor_demand().as_slice())?;
            Ok(OrgContext { user, membership, places })
        })
    }
}

/// A request on a page that exists both inside a client's workspace and on the firm's
/// Team page (an invite's ⋯ actions): whichever the path names.
pub enum PlaceContext {
    Workspace(WorkspaceContext),
    Team(OrgContext),
}

impl FromRequest for PlaceContext {
    type Error = AppError;
    type Future = LocalBoxFuture<'static, Result<Self, AppError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.match_info().get("ws").is_some() {
            let fut = WorkspaceContext::from_request(req, payload);
            Box::pin(async move { fut.await.map(PlaceContext::Workspace) })
        } else {
            let fut = OrgContext::from_request(req, payload);
            Box::pin(async move { fut.await.map(PlaceContext::Team) })
        }
    }
}

/// A firm or workspace that requires two-factor authentication, once the caller's grace
/// period is over, lets them no further than setting it up (with a message naming it). The
/// requirement came with the access facts: no extra query.
fn two_factor_gate(req: &HttpRequest, user: &User, demands: &[Demand]) -> Result<(), AppError> {
    if let Verdict::Blocked(d) = Verdict::of(user.has_two_factor(), demands, crate::db::models::now()) {
        super::session::flash(&req.get_session(), super::session::FlashKind::Error, d.blocked_message());
        // Back here once it is on; a form's target is no page to come back to.
        let next = if req.method() == actix_web::http::Method::GET {
            req.uri().path_and_query().map(|p| p.as_str().to_string()).unwrap_or_default()
        } else {
            String::new()
        };
        return Err(AppError::TwoFactorRequired { next });
    }
    Ok(())
}

/// An id from the path; anything that is not one is simply not found.
pub fn path_id(req: &HttpRequest, name: &str) -> Result<i64, AppError> {
    req.match_info().get(name).and_then(|s| s.parse::<i64>().ok()).filter(|id| *id > 0).ok_or(AppError::NotFound)
}

fn state(req: &HttpRequest) -> Result<web::Data<AppState>, AppError> {
    req.app_data::<web::Data<AppState>>().cloned().ok_or_else(|| AppError::Internal("application state missing".into()))
}
