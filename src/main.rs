use clap::Parser;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    let settings = portico::config::Settings::parse();
    portico::startup::init_tracing(settings.log_format);
    match portico::startup::Application::build(settings).await {
        Ok(app) => match app.run_until_signalled().await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("server stopped: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("portico: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
