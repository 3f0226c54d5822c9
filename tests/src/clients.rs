//! The generated gRPC clients of the running services, and the tokens a test calls them with.

use redsupply::ServiceName;
use redsupply_proto::{
    governance::v1::{
        governance_service_client::GovernanceServiceClient,
        grid_gateway_service_client::GridGatewayServiceClient,
        volunteer_service_client::VolunteerServiceClient,
    },
    organization::v1::{self as org, organization_service_client::OrganizationServiceClient},
    roles,
    stations::v1::{
        points_service_client::PointsServiceClient, stations_service_client::StationsServiceClient,
    },
};
use tonic::transport::Channel;
use uuid::Uuid;

use crate::TestApp;

impl TestApp {
    pub async fn organization(&self) -> OrganizationServiceClient<Channel> {
        OrganizationServiceClient::new(self.channel(ServiceName::Organization).await)
    }
    pub async fn party(&self) -> org::party_service_client::PartyServiceClient<Channel> {
        org::party_service_client::PartyServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn enterprises(
        &self,
    ) -> org::enterprise_service_client::EnterpriseServiceClient<Channel> {
        org::enterprise_service_client::EnterpriseServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn care(&self) -> org::care_service_client::CareServiceClient<Channel> {
        org::care_service_client::CareServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn desk(
        &self,
    ) -> org::question_desk_service_client::QuestionDeskServiceClient<Channel> {
        org::question_desk_service_client::QuestionDeskServiceClient::new(
            self.channel(ServiceName::Organization).await,
        )
    }
    pub async fn governance(&self) -> GovernanceServiceClient<Channel> {
        GovernanceServiceClient::new(self.channel(ServiceName::Governance).await)
    }
    pub async fn gateway(&self) -> GridGatewayServiceClient<Channel> {
        GridGatewayServiceClient::new(self.channel(ServiceName::Governance).await)
    }
    pub async fn volunteers(&self) -> VolunteerServiceClient<Channel> {
        VolunteerServiceClient::new(self.channel(ServiceName::Governance).await)
    }
    pub async fn education(
        &self,
    ) -> redsupply_proto::education::v1::education_service_client::EducationServiceClient<Channel>
    {
        redsupply_proto::education::v1::education_service_client::EducationServiceClient::new(
            self.channel(ServiceName::Education).await,
        )
    }
    pub async fn points(&self) -> PointsServiceClient<Channel> {
        PointsServiceClient::new(self.channel(ServiceName::Stations).await)
    }
    pub async fn honours(
        &self,
    ) -> redsupply_proto::stations::v1::honours_service_client::HonoursServiceClient<Channel> {
        redsupply_proto::stations::v1::honours_service_client::HonoursServiceClient::new(
            self.channel(ServiceName::Stations).await,
        )
    }
    pub async fn stations(&self) -> StationsServiceClient<Channel> {
        StationsServiceClient::new(self.channel(ServiceName::Stations).await)
    }
    pub async fn health(
        &self,
        name: ServiceName,
    ) -> tonic_health::pb::health_client::HealthClient<Channel> {
        tonic_health::pb::health_client::HealthClient::new(self.channel(name).await)
    }

    /// A token for `role` with `subject`.
    pub fn token(&self, role: &str, subject: &str) -> String {
        self.auth.issue(subject, &[role], None).expect("token")
    }

    /// A token for `role` with `subject` that serves `communities` and `grids`.
    pub fn scoped_token(
        &self,
        role: &str,
        subject: &str,
        communities: &[Uuid],
        grids: &[Uuid],
    ) -> String {
        let scope = kit::auth::Scope {
            communities: communities.to_vec(),
            grids: grids.to_vec(),
            platform: None,
        };
        self.auth
            .issue_scoped(subject, &[role], &scope, None)
            .expect("token")
    }

    /// A `grid_system` token for a platform that mirrors every grid the county has now.
    pub async fn platform_token(&self, platform: &str) -> String {
        let grids: Vec<Uuid> = sqlx::query_scalar("SELECT id FROM governance.grids ORDER BY id")
            .fetch_all(&self.db.pool().await)
            .await
            .expect("grids");
        let scope = kit::auth::Scope {
            communities: Vec::new(),
            grids,
            platform: Some(platform.to_owned()),
        };
        self.auth
            .issue_scoped(platform, &[roles::GRID_SYSTEM], &scope, None)
            .expect("token")
    }

    pub fn admin_token(&self) -> String {
        self.token(roles::COUNTY_ADMIN, "test-admin")
    }
}
