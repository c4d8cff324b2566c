//! A workspace's entities and each entity's books.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use askama::Template;
use serde::Deserialize;

#[allow(unused_imports)]
use super::{redirect, redirect_with, render, render_with_status, Layout, TimeWords};
use crate::auth::extract::path_id;
use crate::auth::session::FlashKind;
use crate::auth::WorkspaceContext;
use crate::db::models::entity::{Entity, EntitySummary, TransactionRow};
use crate::domain::access::{self as rules, WorkspaceAction};
use crate::domain::{format_amount, parse_amount, parse_date, EntityId, Name};
use crate::error::AppError;
use crate::startup::AppState;
use crate::usecases::firm::{self, NewTransaction};
use crate::usecases::{ActionError, Conflict};

pub async fn workspace_home(ctx: WorkspaceContext) -> HttpResponse {
    redirect(&format!("/w/{}/entities", ctx.access.workspace.id))
}

#[derive(Template)]
#[template(path = "entities/list.html")]
pub struct EntitiesPage {
    l: Layout,
    ws_id: i64,
    entities: Vec<EntitySummary>,
    can_add: bool,
    all_entities: bool,
}

pub async fn list(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let ws = ctx.access.workspace.id;
    let entities = firm::entities(&state.db, &ctx.access).await?;
    render(EntitiesPage {
        l: Layout::workspace(&session, "Entities", &ctx, "entities"),
        ws_id: ws.0,
        entities,
        can_add: rules::may(&ctx.access.standing, WorkspaceAction::AddEntity),
        all_entities: ctx.access.standing.entities.is_all(),
    })
}

#[derive(Template)]
#[template(path = "entities/new.html")]
pub struct NewEntityPage {
    l: Layout,
    ws_id: i64,
    name: String,
    error: Option<String>,
}

pub async fn new_form(session: Session, ctx: WorkspaceContext) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::AddEntity)?;
    render(NewEntityPage {
        l: Layout::workspace(&session, "Add entity", &ctx, "entities"),
        ws_id: ctx.access.workspace.id.0,
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
pub struct NewEntityForm {
    #[serde(default)]
    name: String,
}

impl NewEntityPage {
    fn again(session: &Session, ctx: &WorkspaceContext, name: &str, error: String) -> Result<HttpResponse, AppError> {
        let page = NewEntityPage {
            l: Layout::workspace(session, "Add entity", ctx, "entities"),
            ws_id: ctx.access.workspace.id.0,
            name: name.to_string(),
            error: Some(error),
        };
        render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page)
    }
}

pub async fn add(
    state: web::Data<AppState>,
    session: Session,
    ctx: WorkspaceContext,
    form: web::Form<NewEntityForm>,
) -> Result<HttpResponse, AppError> {
    require(&ctx, WorkspaceAction::AddEntity)?;
    let again = |error: String| NewEntityPage::again(&session, &ctx, &form.name, error);
    let name = match Name::parse(&form.name, "entity name", 120) {
        Ok(n) => n,
        Err(e) => return again(e),
    };
    let (actor, ws) = (ctx.user.user_id(), ctx.access.workspace.id);
    match firm::add_entity(&state.db, actor, ws, name.clone()).await {
        Ok(id) => Ok(redirect_with(
            &session,
            &format!("/w/{ws}/entities/{id}"),
            FlashKind::Success,
            format!("Entity {} added.", name.as_str()),
        )),
        Err(ActionError::Conflict(Conflict::NameTaken)) => {
            again(format!("This workspace already has an entity called {}.", name.as_str()))
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Default)]
pub struct TransactionInput {
    date: String,
    description: String,
    amount: String,
}

#[derive(Default)]
pub struct TransactionErrors {
    date: Option<String>,
    description: Option<String>,
    amount: Option<String>,
}

#[derive(Template)]
#[template(path = "entities/books.html")]
pub struct BooksPage {
    l: Layout,
    ws_id: i64,
    entity: Entity,
    transactions: Vec<TransactionRow>,
    total: String,
    can_add: bool,
    input: TransactionInput,
    errors: TransactionErrors,
}

impl BooksPage {
    fn amount(&self, cents: &i64) -> String {
        format_amount(*cents)
    }
}

/// The entity, if the caller may read its books; otherwise not found.
async fn visible_entity(state: &AppState, req: &HttpRequest, ctx: &WorkspaceContext) -> Result<Entity, AppError> {
    let id = EntityId(path_id(req, "entity")?);
    Ok(firm::entity(&state.db, &ctx.access, id).await?)
}

async fn books_page(
    state: &AppState,
    session: &Session,
    ctx: &WorkspaceContext,
    entity: Entity,
    input: TransactionInput,
    errors: TransactionErrors,
) -> Result<BooksPage, AppError> {
    let id = entity.id;
    let transactions = firm::books(&state.db, &ctx.access, id).await?;
    let total = format_amount(transactions.iter().map(|t| t.amount_cents).sum());
    Ok(BooksPage {
        l: Layout::workspace(session, entity.name.clone(), ctx, "entities"),
        ws_id: ctx.access.workspace.id.0,
        entity,
        transactions,
        total,
        can_add: rules::may(&ctx.access.standing, WorkspaceAction::AddTransaction),
        input,
        errors,
    })
}

pub async fn books(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
) -> Result<HttpResponse, AppError> {
    let entity = visible_entity(&state, &req, &ctx).await?;
    let input = TransactionInput {
        date: chrono::Utc::now().date_naive().format("%Y-%m-%d").to_string(),
        ..TransactionInput::default()
    };
    render(books_page(&state, &session, &ctx, entity, input, TransactionErrors::default()).await?)
}

#[derive(Deserialize)]
pub struct TransactionForm {
    #[serde(default)]
    date: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    amount: String,
}

fn parse_transaction(form: &TransactionForm) -> Result<NewTransaction, TransactionErrors> {
    let date = parse_date(&form.date);
    let description = Name::parse(&form.description, "description", 200);
    match (date, description, parse_amount(&form.amount)) {
        (Ok(date), Ok(description), Ok(amount_cents)) => Ok(NewTransaction { date, description, amount_cents }),
        (d, s, a) => Err(TransactionErrors {
            date: d.err().map(String::from),
            description: s.err(),
            amount: a.err().map(String::from),
        }),
    }
}

pub async fn add_transaction(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
    ctx: WorkspaceContext,
    form: web::Form<TransactionForm>,
) -> Result<HttpResponse, AppError> {
    let entity = visible_entity(&state, &req, &ctx).await?;
    require(&ctx, WorkspaceAction::AddTransaction)?;
    let form = form.into_inner();
    let t = match parse_transaction(&form) {
        Ok(t) => t,
        Err(errors) => {
            let input = TransactionInput { date: form.date, description: form.description, amount: form.amount };
            let page = books_page(&state, &session, &ctx, entity, input, errors).await?;
            return render_with_status(StatusCode::UNPROCESSABLE_ENTITY, page);
        }
    };
    firm::add_transaction(&state.db, ctx.user.user_id(), ctx.access.workspace.id, entity.id, t).await?;
    Ok(redirect_with(
        &session,
        &format!("/w/{}/entities/{}", ctx.access.workspace.id, entity.id),
        FlashKind::Success,
        "Transaction added.",
    ))
}

fn require(ctx: &WorkspaceContext, action: WorkspaceAction) -> Result<(), AppError> {
    if rules::may(&ctx.access.standing, action) {
        Ok(())
    } else {
        Err(AppError::Forbidden("Your role in this workspace does not allow this."))
    }
}
